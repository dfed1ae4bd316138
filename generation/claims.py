"""Who owns a Generation row: the claim, its lease, takeovers, and how a claim ends
unfinished (failed, or interrupted: handed back for the next caller to take over).

On a miss one caller inserts a `pending` row holding the lease; a claim whose lease
ran out (its owner died), that was interrupted, or that failed a while ago can be
taken over. The sweep (generation.sweep) closes claims whose owners died.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from generation.events import notify_generation
from generation.leases import Lease
from generation.models import IN_PROGRESS, Generation, GenerationStatus

logger = logging.getLogger(__name__)

# A claim's owner holds this lease on its Generation row. It is not renewed: it is
# sized to outlive the owner's whole provider call with its retries (settings).
LEASE = Lease(seconds=lambda: settings.EVERGREEN_LEASE_SECONDS)

# A failed key is not sent to the provider again for this long: protects a
# provider that is down from every request retrying it. Within it a reader of that
# key gets the fallback (or the error) at once, with 0 calls.
FAILURE_COOLDOWN = timedelta(seconds=30)

# The error code of a claim given back unfinished (its owner lost the database, or
# died and the sweep closed its claim): nothing failed, so the next caller takes it
# over at once, with no cooldown.
INTERRUPTED = "interrupted"


def insert_claim(job, owner: str) -> Generation:
    """Claim `job` (a generation.production.Job) by inserting its pending row; the
    row another caller inserted first when it lost the race."""
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


def until_takeable(generation: Generation, remaining: float) -> float:
    """How long to wait for a wake-up: at most until the owner's lease runs out, when
    an owner that died silently can be taken over without waiting any longer."""
    if generation.lease_expires_at is None:
        return remaining
    left = (generation.lease_expires_at - timezone.now()).total_seconds()
    return min(remaining, max(0.05, left + 0.05))


def try_takeover(generation: Generation, owner: str) -> bool:
    """Take a claim whose owner died (lease expired), that was interrupted (handed back,
    or closed by the sweep: nothing failed, so no cooldown), or that failed a while ago."""
    now = timezone.now()
    takeable = (
        (Q(status__in=IN_PROGRESS) & LEASE.expired(now))
        | Q(status=GenerationStatus.FAILED, error_code=INTERRUPTED)
        | Q(status=GenerationStatus.FAILED, updated_at__lt=now - FAILURE_COOLDOWN)
    )
    won = LEASE.take_over(
        Generation.objects.filter(takeable, pk=generation.pk).filter(status=generation.status),
        owner=owner,
        now=now,
        status=GenerationStatus.PENDING,
        error="",
        error_code="",
        updated_at=now,
    )
    if won:
        logger.info("took over generation %s (was %s)", generation.pk, generation.status)
    return bool(won)


def mark_failed(generation: Generation, owner: str, error: str, *, code: str) -> None:
    with transaction.atomic():
        LEASE.release(
            Generation.objects.filter(pk=generation.pk),
            owner=owner,
            status=GenerationStatus.FAILED,
            error=error[:2000],
            error_code=code,
            updated_at=timezone.now(),
        )
        transaction.on_commit(lambda: notify_generation(generation.pk))
