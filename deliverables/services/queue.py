"""Queuing transforms: claim the rows, queue their tasks after commit, release claims.

A claim is status "pending" and a TRANSFORM_LEASE on the row: while the lease runs
the deliverable is not queued again, and a lost task (cluster down, broker wiped)
blocks it only until the lease ends. The lease has no named holder: the expiry a
request wrote is what tells its claims from a later request's.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from deliverables.models import Deliverable, TransformationStatus
from generation.leases import Lease

logger = logging.getLogger(__name__)

TASK = "deliverables.tasks.transform"
# Five minutes: long enough for a busy cluster to reach the task, short enough that a
# lost one does not leave its deliverable pending for long.
TRANSFORM_LEASE = Lease(
    seconds=lambda: 300.0, expires_field="transform_lease_expires_at", owner_field=None
)

# What a released row goes back to: its real status, from its display.
_REAL_STATUS = Case(
    When(display_content="", then=Value(TransformationStatus.NONE)),
    When(display_source_hash=F("content_hash"), then=Value(TransformationStatus.SUCCESS)),
    default=Value(TransformationStatus.STALE),
)


def queue_transforms(*, deliverable_ids: list[int], force: bool = False) -> list[int]:
    """Queue one transform task per deliverable not already queued; returns those queued.

    The free rows are locked and claimed (status pending, the lease taken) in one
    transaction, so two requests never queue the same deliverable. After the
    commit their tasks are queued in one round trip to the broker
    (tasks.enqueue_transforms); when that fails, the failure is logged and the
    claims are released, so the next read queues them again.
    """
    if not deliverable_ids:
        return []
    now = timezone.now()
    with transaction.atomic():
        claimable = list(
            Deliverable.objects.select_for_update(skip_locked=True)
            .filter(TRANSFORM_LEASE.free(now), pk__in=deliverable_ids)
            .values_list("pk", flat=True)
        )
        TRANSFORM_LEASE.take(
            Deliverable.objects.filter(pk__in=claimable),
            now=now,
            content_transformation_status=TransformationStatus.PENDING,
        )
        if claimable:
            hook = _enqueue_hook(sorted(claimable), force=force, expires=TRANSFORM_LEASE.until(now))
            transaction.on_commit(hook)
    return claimable


def is_queued(deliverable: Deliverable, now: datetime) -> bool:
    """The deliverable's transform is queued and its claim still runs."""
    expires = deliverable.transform_lease_expires_at
    return (
        deliverable.content_transformation_status == TransformationStatus.PENDING
        and expires is not None
        and expires >= now
    )


def _enqueue_hook(deliverable_ids: list[int], *, force: bool, expires: datetime):
    """The on_commit hook that queues the claimed rows. It never raises: an error in a
    hook would fail the request that committed and skip the hooks after it."""

    def enqueue_claimed() -> None:
        from deliverables import tasks

        try:
            tasks.enqueue_transforms(deliverable_ids, force=force)
        except Exception:
            logger.exception(
                "could not queue %s deliverable transforms (%s...): claims released",
                len(deliverable_ids),
                deliverable_ids[:5],
            )
            _release_claims(deliverable_ids=deliverable_ids, expires=expires)

    return enqueue_claimed


def _release_claims(*, deliverable_ids: list[int], expires: datetime) -> None:
    """Give back the claims this request made (not a later one's: that one wrote
    another expiry)."""
    try:
        TRANSFORM_LEASE.release(
            Deliverable.objects.filter(
                pk__in=deliverable_ids,
                content_transformation_status=TransformationStatus.PENDING,
                transform_lease_expires_at=expires,
            ),
            content_transformation_status=_REAL_STATUS,
        )
    except Exception:
        # The database is down too: the claims lapse when the lease ends.
        logger.exception("could not release %s deliverable claims", len(deliverable_ids))


def release_claim(*, deliverable_id: int) -> None:
    """A queued deliverable that needs no transform goes back to its real status."""
    TRANSFORM_LEASE.release(
        Deliverable.objects.filter(
            pk=deliverable_id, content_transformation_status=TransformationStatus.PENDING
        ),
        content_transformation_status=_REAL_STATUS,
    )
