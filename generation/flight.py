"""The generate-once layer: every AI artefact is produced through get_or_generate().

Contract: a completed artefact with the same context_hash is served
with 0 provider calls; on a miss exactly one caller, across processes, claims
the key and calls the provider outside any transaction; the others wait for
it (or get GenerationPending when they may not block). The result, its
GenerationLog row and the caller's domain row are written in one transaction.
When the provider fails or the budget is spent, the last good content is
served and the failure is logged.
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
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from generation.budget import budget_spent
from generation.errors import BudgetExceeded, GenerationPending, ProviderError, ProviderUnavailable
from generation.events import hub, notify_generation, release_connection
from generation.hits import record_hit
from generation.leases import Lease, owner_token
from generation.models import (
    IN_PROGRESS,
    Generation,
    GenerationLog,
    GenerationStatus,
    Outcome,
    Prompt,
)
from generation.pricing import cost_for
from generation.prompts import active_prompt, prompt_context_hash, render_prompt
from generation.providers import ProviderRequest, ProviderResult, get_provider
from generation.retry import RetryPolicy, call_with_retry
from generation.schemas import get_schema
from generation.streams import stream_into

logger = logging.getLogger(__name__)

# A failed key is not sent to the provider again for this long: protects a
# provider that is down from every request retrying it. Within it a reader of that
# key gets the fallback (or the error) at once, with 0 calls.
FAILURE_COOLDOWN = timedelta(seconds=30)

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


# A claim's owner holds this lease on its Generation row. It is not renewed: it is
# sized to outlive the owner's whole provider call with its retries (settings).
LEASE = Lease(seconds=lambda: settings.EVERGREEN_LEASE_SECONDS)


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
) -> GenerationResult:
    """Return the artefact for (kind, scope, inputs under the active prompt), making it
    at most once.

    `on_result(generation)` runs inside the write-through transaction, so the
    caller's domain row is committed together with the artefact and its log.
    `ttl` makes completed content expire: it is then served as stale while a
    background task regenerates it (or `on_stale` is called instead).
    `retry` replaces the project's retry policy for this call (its attempts and
    backoff; keep its total_timeout within the lease).
    """
    prompt = active_prompt(key=prompt_key)
    key = prompt_context_hash(prompt=prompt, inputs=inputs)
    job = _Job(
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
    )
    generation = Generation.objects.filter(kind=kind, scope=scope, context_hash=key).first()
    if generation is not None and generation.status == GenerationStatus.COMPLETED:
        return _serve_completed(job, generation, Source.CACHE, on_stale)
    return _claim_or_wait(job, generation, wait=wait, on_stale=on_stale)


@dataclass
class _Job:
    kind: str
    scope: str
    key: str
    prompt: Prompt
    inputs: dict
    company_id: int | None
    stream: bool
    ttl: timedelta | None
    on_result: Callable[[Generation], None] | None
    retry: RetryPolicy | None = None


def _serve_completed(job, generation, source, on_stale) -> GenerationResult:
    record_hit(kind=job.kind, company_id=job.company_id)
    if generation.expires_at is not None and generation.expires_at <= timezone.now():
        (on_stale or schedule_revalidation)(generation)
        return GenerationResult(generation, Source.STALE)
    return GenerationResult(generation, source)


def _claim_or_wait(job: _Job, generation, *, wait: bool, on_stale) -> GenerationResult:
    owner = owner_token()
    waited = False
    deadline = time.monotonic() + settings.EVERGREEN_WAIT_SECONDS
    subscription = None
    try:
        while True:
            if generation is None:
                generation = _try_insert_claim(job, owner)
                if generation.owner == owner:
                    return _start(job, generation, owner, wait=wait)
            if generation.status == GenerationStatus.COMPLETED:
                if waited:
                    record_hit(kind=job.kind, company_id=job.company_id)
                    return GenerationResult(generation, Source.SHARED)
                return _serve_completed(job, generation, Source.CACHE, on_stale)
            if _try_takeover(generation, owner):
                generation.refresh_from_db()
                return _start(job, generation, owner, wait=wait)
            if generation.status == GenerationStatus.FAILED:
                return _fallback_or_raise(job, generation.error, ProviderUnavailable)
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
                subscription.wait(remaining)
            waited = True
            generation = Generation.objects.filter(pk=generation.pk).first()
    finally:
        if subscription is not None:
            subscription.close()


def _try_insert_claim(job: _Job, owner: str) -> Generation:
    try:
        with transaction.atomic():
            return Generation.objects.create(
                kind=job.kind,
                scope=job.scope,
                context_hash=job.key,
                company_id=job.company_id,
                prompt=job.prompt,
                model=job.prompt.effective_model,
                inputs=job.inputs,
                stream=job.stream,
                status=GenerationStatus.PENDING,
                owner=owner,
                lease_expires_at=LEASE.until(),
                ttl=job.ttl,
            )
    except IntegrityError:
        return Generation.objects.get(kind=job.kind, scope=job.scope, context_hash=job.key)


def _try_takeover(generation: Generation, owner: str) -> bool:
    """Take a claim whose owner died (lease expired) or that failed a while ago."""
    now = timezone.now()
    takeable = (Q(status__in=IN_PROGRESS) & LEASE.expired(now)) | Q(
        status=GenerationStatus.FAILED, updated_at__lt=now - FAILURE_COOLDOWN
    )
    won = LEASE.take_over(
        Generation.objects.filter(takeable, pk=generation.pk).filter(status=generation.status),
        owner=owner,
        now=now,
        status=GenerationStatus.PENDING,
        error="",
        updated_at=now,
    )
    if won:
        logger.info("took over generation %s (was %s)", generation.pk, generation.status)
    return bool(won)


def _start(job: _Job, generation: Generation, owner: str, *, wait: bool) -> GenerationResult:
    if wait:
        return _produce(job, generation, owner)
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("generation.tasks.run_claimed", generation.pk, owner))
    raise GenerationPending(generation)


def _fallback_or_raise(job: _Job, error: str, exc_class) -> GenerationResult:
    last_good = (
        Generation.objects.filter(kind=job.kind, scope=job.scope, status=GenerationStatus.COMPLETED)
        .order_by("-completed_at")
        .first()
    )
    if last_good is None:
        raise exc_class(error or None)
    record_fallback(kind=job.kind, company_id=job.company_id)
    return GenerationResult(last_good, Source.FALLBACK, error=error, failure=exc_class)


def _produce(job: _Job, generation: Generation, owner: str) -> GenerationResult:
    """The owner's path: budget, provider call outside any transaction, write-through."""
    provider = get_provider()
    if budget_spent(company_id=job.company_id):
        _log(
            job,
            generation,
            provider.name,
            outcome=Outcome.BUDGET_EXCEEDED,
            attempts=0,
            error="daily budget spent",
        )
        _mark_failed(generation, owner, "The company's daily budget is spent.")
        return _fallback_or_raise(job, "The company's daily budget is spent.", BudgetExceeded)

    # The call takes seconds and needs no database: do not hold a connection through it.
    release_connection()
    started = time.monotonic()
    try:
        result, attempts = _call_provider(job, generation, provider)
    except ProviderError as exc:
        _log_failure(job, generation, provider, exc, started=started)
        _mark_failed(generation, owner, str(exc))
        logger.warning(
            "generation %s failed after %s attempts: %s", generation.pk, exc.attempts, exc
        )
        return _fallback_or_raise(job, str(exc), ProviderUnavailable)
    latency = int((time.monotonic() - started) * 1000)
    return _write_through(job, generation, owner, provider.name, result, attempts, latency)


def _log_failure(job: _Job, generation: Generation, provider, exc: ProviderError, *, started):
    """A call that ended in failure is logged like any other: attempts, latency, and the
    raw text of an output that failed its schema."""
    _log(
        job,
        generation,
        provider.name,
        outcome=exc.outcome,
        attempts=exc.attempts,
        error=str(exc),
        latency_ms=int((time.monotonic() - started) * 1000),
        raw_output=exc.raw_text,
    )


def _call_provider(job: _Job, generation: Generation, provider) -> tuple[ProviderResult, int]:
    instructions, text = render_prompt(prompt=job.prompt, inputs=job.inputs)
    policy = job.retry or RetryPolicy.from_settings()
    request_timeout = settings.EVERGREEN_RETRY["request_timeout"]
    # Every attempt must end inside the total cap: the claim's lease is sized
    # for it, and an owner still running past its lease invites a second call.
    deadline = time.monotonic() + policy.total_timeout
    schema = get_schema(job.prompt.output_schema)

    def attempt(number: int) -> ProviderResult:
        left = deadline - time.monotonic()
        if left < 0.5:
            raise ProviderError(
                "no time left for another attempt", transient=False, outcome="timeout"
            )
        request = ProviderRequest(
            instructions=instructions,
            input=text,
            model=job.prompt.effective_model,
            temperature=job.prompt.temperature,
            timeout=min(request_timeout, left),
            inputs=job.inputs,
        )
        if job.stream:
            return stream_into(generation, provider, request, schema=schema)
        if schema is not None:
            return provider.generate_structured(request, schema)
        return provider.generate_text(request)

    return call_with_retry(attempt, policy=policy)


def _write_through(job, generation, owner, provider_name, result, attempts, latency):
    try:
        return _commit_success(job, generation, owner, provider_name, result, attempts, latency)
    except Exception as exc:
        # The domain write refused the result: nothing was committed. Release the
        # claim so waiters stop waiting and the key can be tried again later.
        _mark_failed(generation, owner, f"could not store the result: {exc}")
        raise


def _commit_success(job, generation, owner, provider_name, result, attempts, latency):
    now = timezone.now()
    model_name = result.model or job.prompt.effective_model
    # The call is logged in its own transaction first: the tokens and cost were spent
    # whether or not the result can be stored, so budgets and usage see every call.
    log = _log(
        job,
        generation,
        provider_name,
        outcome=Outcome.SUCCESS,
        attempts=attempts,
        latency_ms=latency,
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
        model=model_name,
    )
    try:
        with transaction.atomic():
            updated = LEASE.release(
                Generation.objects.filter(pk=generation.pk),
                owner=owner,
                status=GenerationStatus.COMPLETED,
                provider=provider_name,
                model=model_name,
                result=result.parsed,
                text=result.text,
                error="",
                attempts=attempts,
                updated_at=now,
                completed_at=now,
                expires_at=now + job.ttl if job.ttl else None,
                ttl=job.ttl,
            )
            generation.refresh_from_db()
            if not updated:
                # Our lease ran out and another caller took the key over; its
                # result stands and ours is only logged.
                logger.warning("generation %s: lease lost before write", generation.pk)
            elif job.on_result is not None:
                job.on_result(generation)
            transaction.on_commit(lambda: notify_generation(generation.pk))
    except Exception as exc:
        GenerationLog.objects.filter(pk=log.pk).update(error=f"result not stored: {exc}"[:2000])
        raise
    return GenerationResult(generation, Source.GENERATED)


def _mark_failed(generation: Generation, owner: str, error: str) -> None:
    with transaction.atomic():
        LEASE.release(
            Generation.objects.filter(pk=generation.pk),
            owner=owner,
            status=GenerationStatus.FAILED,
            error=error[:2000],
            updated_at=timezone.now(),
        )
        transaction.on_commit(lambda: notify_generation(generation.pk))


def _log(
    job,
    generation,
    provider_name,
    *,
    outcome,
    attempts,
    error="",
    latency_ms=0,
    tokens_in=0,
    tokens_out=0,
    model=None,
    raw_output="",
) -> GenerationLog:
    model = model or job.prompt.effective_model
    return GenerationLog.objects.create(
        kind=job.kind,
        company_id=job.company_id,
        prompt=job.prompt,
        generation=generation,
        provider=provider_name,
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=cost_for(model=model, tokens_in=tokens_in, tokens_out=tokens_out),
        latency_ms=latency_ms,
        attempts=attempts,
        outcome=outcome,
        error=error[:2000],
        raw_output=raw_output[:20000] if outcome == Outcome.INVALID_OUTPUT else "",
    )


# --- background entry points (generation.tasks wraps these) ---------------------------


def _job_for(generation: Generation) -> _Job:
    return _Job(
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
    if generation.owner != owner and not _try_takeover(generation, owner):
        return generation
    # A failure is already logged and marked on the row by _produce.
    job = _job_for(generation)
    job.on_result = _writers.get(job.kind)
    with contextlib.suppress(ProviderUnavailable, BudgetExceeded):
        _produce(job, generation, owner)
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
    release_connection()
    provider = get_provider()
    started = time.monotonic()
    try:
        result, attempts = _call_provider(job, generation, provider)
    except ProviderError as exc:
        _log_failure(job, generation, provider, exc, started=started)
        # The old content keeps serving; the key is not refreshed again within the
        # cooldown, however many readers find it expired (the lease blocks them).
        LEASE.release(
            Generation.objects.filter(pk=generation.pk),
            owner=owner,
            lease_expires_at=timezone.now() + FAILURE_COOLDOWN,
        )
        return generation
    latency = int((time.monotonic() - started) * 1000)
    _write_through(job, generation, owner, provider.name, result, attempts, latency)
    return generation
