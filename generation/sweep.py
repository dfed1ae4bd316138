"""The sweep: nothing stays claimed after its holder died.

A caller that dies mid-call (kill -9, a lost machine) leaves its claim `pending` or
`streaming` and its ledger row `started`. Nothing is lost while it lies there (the
next reader takes an expired claim over), but the row says "in progress" to anyone
who looks, and a call of unknown outcome is missing from usage. Run every minute
(generation.tasks.sweep, scheduled by a migration), the sweep closes every claim
whose lease ran out, whatever its kind and scope:

- a pending or streaming generation becomes `failed` with the code `interrupted`,
  which the next caller takes over at once (no failure cooldown), and its waiters
  are woken to do so;
- a completed generation whose background refresh died gets its lease back;
- ledger rows left `started` past the claim's lease (or belonging to a claim closed
  here) are closed as `unknown`, keeping their estimated cost.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from generation import ledger
from generation.claims import INTERRUPTED, LEASE
from generation.events import notify_generation
from generation.models import IN_PROGRESS, Generation, GenerationStatus

BATCH = 500


@dataclass
class SweepReport:
    claims_interrupted: int = 0
    refreshes_released: int = 0
    calls_closed_unknown: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def sweep_claims(*, now: datetime | None = None) -> SweepReport:
    """Close every expired claim and every call left without an outcome. Safe to run
    twice and beside live callers: a claim is closed only while nobody holds it."""
    now = now or timezone.now()
    report = SweepReport()
    while True:
        closed = _interrupt_batch(now)
        report.claims_interrupted += len(closed)
        report.calls_closed_unknown += ledger.close_abandoned(
            started_before=now - timedelta(seconds=LEASE.seconds()), generation_ids=closed
        )
        if len(closed) < BATCH:
            break
    report.refreshes_released = LEASE.release(
        Generation.objects.filter(status=GenerationStatus.COMPLETED)
        .exclude(owner="")
        .filter(LEASE.expired(now))
    )
    return report


def _interrupt_batch(now: datetime) -> list[int]:
    with transaction.atomic():
        # Locked and re-checked: a caller taking one over meanwhile keeps it.
        ids = list(
            Generation.objects.select_for_update(skip_locked=True)
            .filter(LEASE.expired(now), status__in=IN_PROGRESS)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if ids:
            LEASE.release(
                Generation.objects.filter(pk__in=ids),
                status=GenerationStatus.FAILED,
                error="interrupted: the owner's lease ran out before it finished",
                error_code=INTERRUPTED,
                updated_at=now,
            )
            for pk in ids:
                transaction.on_commit(lambda pk=pk: notify_generation(pk))
    return ids
