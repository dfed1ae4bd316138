"""Queuing transforms: claim the rows, queue their tasks after commit, release claims.

A claim is content_transformation_status "pending" plus the time it was queued; a
queued deliverable is not queued again until QUEUED_LEASE has passed (a lost task
must not block it forever).
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from deliverables.models import Deliverable, TransformationStatus

logger = logging.getLogger(__name__)

TASK = "deliverables.tasks.transform"
# A queued deliverable is not queued again for this long; past it, a lost task
# (cluster down, broker wiped) no longer blocks the deliverable.
QUEUED_LEASE = timedelta(minutes=5)

# What a released row goes back to: its real status, from its display.
_REAL_STATUS = Case(
    When(display_content="", then=Value(TransformationStatus.NONE)),
    When(display_source_hash=F("content_hash"), then=Value(TransformationStatus.SUCCESS)),
    default=Value(TransformationStatus.STALE),
)


def queue_transforms(*, deliverable_ids: list[int], force: bool = False) -> list[int]:
    """Queue one transform task per deliverable not already queued; returns those queued.

    The rows are claimed (status pending, queued_at now) in one conditional
    UPDATE under row locks, so two requests never queue the same deliverable.
    After the commit their tasks are queued in one round trip to the broker
    (tasks.enqueue_transforms); when that fails, the failure is logged and the
    claims are released, so the next read queues them again.
    """
    if not deliverable_ids:
        return []
    now = timezone.now()
    with transaction.atomic():
        claimable = list(
            Deliverable.objects.select_for_update(skip_locked=True)
            .filter(pk__in=deliverable_ids)
            .exclude(
                content_transformation_status=TransformationStatus.PENDING,
                transform_queued_at__gt=now - QUEUED_LEASE,
            )
            .values_list("pk", flat=True)
        )
        Deliverable.objects.filter(pk__in=claimable).update(
            content_transformation_status=TransformationStatus.PENDING, transform_queued_at=now
        )
        if claimable:
            transaction.on_commit(_enqueue_hook(sorted(claimable), force=force, queued_at=now))
    return claimable


def is_queued(deliverable: dict, now) -> bool:
    """A live claim: queued less than QUEUED_LEASE ago."""
    queued_at = deliverable["transform_queued_at"]
    return (
        deliverable["content_transformation_status"] == TransformationStatus.PENDING
        and queued_at is not None
        and queued_at > now - QUEUED_LEASE
    )


def _enqueue_hook(deliverable_ids: list[int], *, force: bool, queued_at):
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
            _release_claims(deliverable_ids=deliverable_ids, queued_at=queued_at)

    return enqueue_claimed


def _release_claims(*, deliverable_ids: list[int], queued_at) -> None:
    """Give back the claims this request made (not a later one's)."""
    try:
        Deliverable.objects.filter(
            pk__in=deliverable_ids,
            content_transformation_status=TransformationStatus.PENDING,
            transform_queued_at=queued_at,
        ).update(content_transformation_status=_REAL_STATUS, transform_queued_at=None)
    except Exception:
        # The database is down too: the claims lapse after QUEUED_LEASE.
        logger.exception("could not release %s deliverable claims", len(deliverable_ids))


def release_claim(*, deliverable_id: int) -> None:
    """A queued deliverable that needs no transform goes back to its real status."""
    Deliverable.objects.filter(
        pk=deliverable_id, content_transformation_status=TransformationStatus.PENDING
    ).update(content_transformation_status=_REAL_STATUS, transform_queued_at=None)
