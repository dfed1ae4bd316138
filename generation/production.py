"""The owner's path of a claim (generation.flight decides who owns it): the budget,
the ledger row written before the provider is asked, the call outside any
transaction, and the write-through; or how the claim ends when it cannot complete.

The provider is passed in by the caller (flight), which looks it up per call.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from generation import ledger
from generation.budget import budget_spent
from generation.claims import INTERRUPTED, LEASE, mark_failed
from generation.errors import BudgetExceeded, ProviderError, ProviderUnavailable
from generation.events import notify_generation, release_connection
from generation.models import Generation, GenerationStatus, Outcome, Prompt
from generation.prompts import render_prompt
from generation.providers import ProviderRequest, ProviderResult
from generation.public import error_code
from generation.retry import RetryPolicy, call_with_retry
from generation.schemas import get_schema
from generation.streams import stream_into

logger = logging.getLogger(__name__)

# The connection to the database went away under the caller (a failover, a killed
# backend, a network cut): the work is not wrong, only interrupted.
CONNECTION_ERRORS = (OperationalError, InterfaceError)


@dataclass
class Job:
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
    # Who asked, for the ledger (e.g. "review-run:<id>").
    origin: str = ""


class Failed(Exception):
    """The claim ended without content. `failure` is the error class a caller raises
    when it has no earlier content to serve instead."""

    def __init__(self, message: str, failure: type) -> None:
        super().__init__(message)
        self.message = message
        self.failure = failure


@dataclass
class Call:
    result: ProviderResult
    attempts: int
    latency_ms: int


def produce(job: Job, generation: Generation, owner: str, *, provider) -> Generation:
    """Budget, ledger, provider call, write-through: the completed row, or Failed."""
    if budget_spent(company_id=job.company_id):
        ledger.record_refusal(
            kind=job.kind,
            company_id=job.company_id,
            generation=generation,
            provider=provider.name,
            model=job.prompt.effective_model,
        )
        message = "The company's daily budget is spent."
        mark_failed(generation, owner, message, code="budget_exceeded")
        raise Failed(message, BudgetExceeded)
    try:
        entry, call = call_logged(job, generation, provider)
        return write_through(job, generation, owner, provider.name, call, entry)
    except ProviderError as exc:
        mark_failed(generation, owner, str(exc), code=error_code(exc))
        logger.warning(
            "generation %s failed after %s attempts: %s", generation.pk, exc.attempts, exc
        )
        raise Failed(str(exc), ProviderUnavailable) from exc
    except CONNECTION_ERRORS as exc:
        # Handed back as interrupted: the next caller takes it over at once.
        logger.warning("generation %s: database connection lost (%s)", generation.pk, exc)
        error = f"interrupted: {exc}"
        after_connection_loss(lambda: mark_failed(generation, owner, error, code=INTERRUPTED))
        raise


def call_logged(job: Job, generation: Generation | None, provider) -> tuple[ledger.Entry, Call]:
    """The provider call, on the ledger: its row is committed before the first request
    and completed after the last. A ProviderError leaves with its row completed.
    Without a generation (a prompt preview) nothing is streamed or stored: the caller
    closes the row and keeps the result."""
    instructions, text = render_prompt(prompt=job.prompt, inputs=job.inputs)
    entry = ledger.open_entry(
        kind=job.kind,
        company_id=job.company_id,
        generation=generation,
        provider=provider.name,
        model=job.prompt.effective_model,
        prompt_text=f"{instructions}\n{text}",
        origin=job.origin,
    )
    # The call takes seconds and needs no database: do not hold a connection through it.
    release_connection()
    started = time.monotonic()
    try:
        result, attempts = _call_provider(job, generation, provider, entry, (instructions, text))
    except ProviderError as exc:
        ledger.close_entry(
            entry,
            outcome=exc.outcome,
            attempts=exc.attempts,
            latency_ms=_since(started),
            error=str(exc),
            raw_output=exc.raw_text,
        )
        raise
    except CONNECTION_ERRORS as exc:
        # How the call ended can no longer be told (a stream's chunks were being
        # written): its row says its requests were sent, with an unknown outcome.
        message = f"no outcome: the database connection was lost ({exc})"
        after_connection_loss(lambda: ledger.abandon(entry, error=message))
        raise
    return entry, Call(result=result, attempts=attempts, latency_ms=_since(started))


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _call_provider(job: Job, generation: Generation, provider, entry, rendered):
    instructions, text = rendered
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
        # On the ledger before it is sent: a request is never made unrecorded.
        ledger.count_attempt(entry, number)
        release_connection()
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


def refresh(job: Job, generation: Generation, owner: str, *, provider, cooldown) -> None:
    """Regenerate a completed artefact in place (its lease taken by schedule_revalidation):
    on failure the old content keeps serving, and the key is not refreshed again within
    `cooldown`, however many readers find it expired (the lease blocks them)."""
    try:
        entry, call = call_logged(job, generation, provider)
        write_through(job, generation, owner, provider.name, call, entry)
    except ProviderError:
        LEASE.release(
            Generation.objects.filter(pk=generation.pk),
            owner=owner,
            lease_expires_at=timezone.now() + cooldown,
        )


def write_through(job, generation, owner, provider_name, call: Call, entry) -> Generation:
    """Log the call, then store the result and the caller's domain row together."""
    result = call.result

    def record() -> None:
        ledger.close_entry(
            entry,
            outcome=Outcome.SUCCESS,
            attempts=call.attempts,
            latency_ms=call.latency_ms,
            result=result,
        )

    # The call is logged in its own transaction first: the tokens and cost were spent
    # whether or not the result can be stored, so budgets and usage see every call.
    try:
        record()
    except CONNECTION_ERRORS:
        after_connection_loss(record)  # the call did succeed: say so on a new connection
        raise
    now = timezone.now()
    model_name = result.model or job.prompt.effective_model
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
                error_code="",
                attempts=call.attempts,
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
    except CONNECTION_ERRORS:
        raise
    except Exception as exc:
        # The domain write refused the result: nothing was committed. Release the
        # claim so waiters stop waiting and the key can be tried again later.
        ledger.note_error(entry, f"result not stored: {exc}")
        mark_failed(generation, owner, f"could not store the result: {exc}", code="not_stored")
        raise
    return generation


def after_connection_loss(action: Callable[[], object]) -> None:
    """Run `action` on a new connection after the old one broke. If the database is
    still away it is left undone: the sweep (generation.sweep) closes what remains."""
    if connection.in_atomic_block:
        return  # the caller's transaction is broken: it cannot be left from here
    connection.close()
    try:
        action()
    except DatabaseError:
        logger.warning("the database is still unavailable; the sweep will finish this")
