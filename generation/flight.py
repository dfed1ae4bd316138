"""The generate-once layer: every AI artefact is produced through get_or_generate().

Contract: a completed artefact with the same context_hash is served
with 0 provider calls; on a miss exactly one caller, across processes, claims
the key and calls the provider outside any transaction; the others wait for
it (or get GenerationPending when they may not block). The owner's
path (ledger, provider call, write-through) is generation.production. When the
provider fails or the budget is spent, the last good content is served and the
failure is logged.
"""

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from generation.claims import FAILURE_COOLDOWN, LEASE, insert_claim, try_takeover, until_takeable
from generation.errors import BudgetExceeded, GenerationPending, ProviderUnavailable
from generation.events import hub, release_connection
from generation.hits import record_hit
from generation.leases import owner_token
from generation.models import Generation, GenerationStatus
from generation.production import Failed, Job, produce, refresh
from generation.prompts import active_prompt, prompt_context_hash
from generation.providers import get_provider
from generation.retry import RetryPolicy

logger = logging.getLogger(__name__)

# Kind suffix of the counter of reads served fallback content (HitCounter): they
# are not cache hits, and usage reports them as their own figure.
FALLBACK_SUFFIX = ":fallback"


def record_fallback(*, kind: str, company_id: int | None, count: int = 1) -> None:
    """Count reads that served earlier (fallback) content instead of current content."""
    record_hit(kind=f"{kind}{FALLBACK_SUFFIX}", company_id=company_id, count=count)


class Source(StrEnum):
    CACHE = "cache"  # completed artefact found: 0 provider calls
    GENERATED = "generated"  # this caller made the provider call
    SHARED = "shared"  # waited for another caller's call: 0 calls of its own
    STALE = "stale"  # expired content, served while it is regenerated
    FALLBACK = "fallback"  # provider failed or budget spent: the last good content


@dataclass
class GenerationResult:
    generation: Generation
    source: Source
    error: str = ""
    # On FALLBACK: the error class a caller raises when it has nothing else to serve
    # (BudgetExceeded for a spent budget, ProviderUnavailable otherwise).
    failure: type | None = None

    @property
    def content(self) -> Any:
        return self.generation.content

    @property
    def is_stale(self) -> bool:
        return self.source in (Source.STALE, Source.FALLBACK)


def get_or_generate(
    *,
    kind: str,
    scope: str,
    prompt_key: str,
    inputs: Mapping[str, Any],
    company_id: int | None = None,
    stream: bool = False,
    wait: bool = True,
    ttl: timedelta | None = None,
    on_result: Callable[[Generation], None] | None = None,
    on_stale: Callable[[Generation], None] | None = None,
    retry: RetryPolicy | None = None,
    origin: str = "",
) -> GenerationResult:
    """Return the artefact for (kind, scope, inputs under the active prompt), making it
    at most once.

    `on_result(generation)` runs inside the write-through transaction, so the
    caller's domain row is committed together with the artefact and its log.
    `ttl` makes completed content expire: it is then served as stale while a
    background task regenerates it (or `on_stale` is called instead).
    `retry` replaces the project's retry policy for this call (its attempts and
    backoff; keep its total_timeout within the lease). `origin` names who asks on
    the ledger (e.g. "review-run:<id>"), so its calls can be summed from there.
    """
    prompt = active_prompt(key=prompt_key)
    key = prompt_context_hash(prompt=prompt, inputs=inputs)
    job = Job(
        kind=kind,
        scope=scope,
        key=key,
        prompt=prompt,
        inputs=dict(inputs),
        company_id=company_id,
        stream=stream,
        ttl=ttl,
        on_result=on_result,
        retry=retry,
        origin=origin,
    )
    generation = Generation.objects.filter(kind=kind, scope=scope, context_hash=key).first()
    if generation is not None and generation.status == GenerationStatus.COMPLETED:
        return _serve_completed(job, generation, Source.CACHE, on_stale)
    return _claim_or_wait(job, generation, wait=wait, on_stale=on_stale)


def _serve_completed(job, generation, source, on_stale) -> GenerationResult:
    record_hit(kind=job.kind, company_id=job.company_id)
    if generation.expires_at is not None and generation.expires_at <= timezone.now():
        (on_stale or schedule_revalidation)(generation)
        return GenerationResult(generation, Source.STALE)
    return GenerationResult(generation, source)


def _claim_or_wait(job: Job, generation, *, wait: bool, on_stale) -> GenerationResult:
    owner = owner_token()
    waited = False
    deadline = time.monotonic() + settings.EVERGREEN_WAIT_SECONDS
    subscription = None
    try:
        while True:
            if generation is None:
                generation = insert_claim(job, owner)
                if generation.owner == owner:
                    return _start(job, generation, owner, wait=wait)
            if generation.status == GenerationStatus.COMPLETED:
                if waited:
                    record_hit(kind=job.kind, company_id=job.company_id)
                    return GenerationResult(generation, Source.SHARED)
                return _serve_completed(job, generation, Source.CACHE, on_stale)
            if try_takeover(generation, owner):
                generation.refresh_from_db()
                return _start(job, generation, owner, wait=wait)
            if generation.status == GenerationStatus.FAILED:
                # Within the cooldown a reader gets the failure the owner got: a spent
                # budget stays a 429 (with its Retry-After) for every reader, on any host.
                failure = (
                    BudgetExceeded
                    if generation.error_code == BudgetExceeded.code
                    else ProviderUnavailable
                )
                return _fallback_or_raise(job, generation.error, failure)
            if not wait:
                raise GenerationPending(generation)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _fallback_or_raise(
                    job, "Timed out waiting for another caller's generation.", ProviderUnavailable
                )
            if subscription is None:
                # Subscribe first, then re-read: a change between the two is not lost.
                subscription = hub.subscribe(generation.pk)
            else:
                # Waiting holds no database connection: the hub listens for everyone.
                release_connection()
                subscription.wait(until_takeable(generation, remaining))
            waited = True
            generation = Generation.objects.filter(pk=generation.pk).first()
    finally:
        if subscription is not None:
            subscription.close()


def _start(job: Job, generation: Generation, owner: str, *, wait: bool) -> GenerationResult:
    if wait:
        try:
            made = produce(job, generation, owner, provider=get_provider())
        except Failed as exc:
            return _fallback_or_raise(job, exc.message, exc.failure)
        return GenerationResult(made, Source.GENERATED)
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("generation.tasks.run_claimed", generation.pk, owner))
    raise GenerationPending(generation)


def _fallback_or_raise(job: Job, error: str, exc_class) -> GenerationResult:
    last_good = (
        Generation.objects.filter(kind=job.kind, scope=job.scope, status=GenerationStatus.COMPLETED)
        .order_by("-completed_at")
        .first()
    )
    if last_good is None:
        raise exc_class(error or None)
    record_fallback(kind=job.kind, company_id=job.company_id)
    return GenerationResult(last_good, Source.FALLBACK, error=error, failure=exc_class)


# --- background entry points (generation.tasks wraps these) ---------------------------


def _job_for(generation: Generation) -> Job:
    return Job(
        kind=generation.kind,
        scope=generation.scope,
        key=generation.context_hash,
        prompt=generation.prompt,
        inputs=generation.inputs,
        company_id=generation.company_id,
        stream=generation.stream,
        ttl=generation.ttl,
        on_result=None,
    )


# kind -> callback run inside the write-through transaction of a claim finished in the
# background (run_claimed), so the app that owns the kind writes its rows for it: the
# caller that did not wait is gone.
_writers: dict[str, Callable[[Generation], None]] = {}


def register_writer(kind: str, callback: Callable[[Generation], None]) -> None:
    _writers[kind] = callback


def run_claimed(*, generation_id: int, owner: str) -> Generation | None:
    """Finish a claim made by a caller that did not wait. Safe to run twice."""
    generation = Generation.objects.select_related("prompt").filter(pk=generation_id).first()
    if generation is None or generation.status == GenerationStatus.COMPLETED:
        return generation
    if generation.owner != owner and not try_takeover(generation, owner):
        return generation
    # A failure is already logged and marked on the row by produce.
    job = _job_for(generation)
    job.on_result = _writers.get(job.kind)
    with contextlib.suppress(Failed):
        produce(job, generation, owner, provider=get_provider())
    generation.refresh_from_db()
    return generation


# kind -> callback run inside the write-through transaction of a background refresh
# (revalidate), so the app that owns the kind replaces its rows of that artefact.
_refreshers: dict[str, Callable[[Generation], None]] = {}


def register_refresher(kind: str, callback: Callable[[Generation], None]) -> None:
    _refreshers[kind] = callback


def schedule_revalidation(generation: Generation) -> bool:
    """Claim the refresh of an expired artefact and queue it; the row keeps serving."""
    owner = owner_token()
    won = LEASE.take(
        Generation.objects.filter(pk=generation.pk, status=GenerationStatus.COMPLETED),
        owner=owner,
    )
    if won:
        from django_q.tasks import async_task

        transaction.on_commit(
            lambda: async_task("generation.tasks.revalidate", generation.pk, owner)
        )
    return bool(won)


def revalidate(*, generation_id: int, owner: str) -> Generation | None:
    """Regenerate an expired artefact in place, keeping its lifetime. Safe to run twice."""
    generation = Generation.objects.select_related("prompt").filter(pk=generation_id).first()
    if generation is None or generation.owner != owner:
        return generation
    job = _job_for(generation)
    job.on_result = _refreshers.get(job.kind)
    # Not streamed: the row must keep serving its completed content (status and
    # text) until the new one is written; a refresh in the background has nobody
    # to stream to, and a failed one must leave the old content as it was.
    job.stream = False
    refresh(job, generation, owner, provider=get_provider(), cooldown=FAILURE_COOLDOWN)
    return generation
