"""Editing deliverables: a new title or raw content makes the display stale."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from deliverables.models import (
    Deliverable,
    DeliverableStatus,
    DisplayFormat,
    TransformationStatus,
    Workspace,
    source_hash,
)


def create_deliverable(
    *,
    workspace: Workspace,
    title: str,
    content: Any,
    status: str = DeliverableStatus.DRAFT,
) -> Deliverable:
    return Deliverable.objects.create(
        workspace=workspace, title=title, content=content, status=status
    )


def update_deliverable(
    *,
    deliverable: Deliverable,
    title: str | None = None,
    content: Any = None,
    status: str | None = None,
) -> Deliverable:
    """Edit a deliverable. A new title or raw content makes its display stale (the
    hashes differ);
    the display is transformed again, once, on the next read or by a queued task."""
    with transaction.atomic():
        row = Deliverable.objects.select_for_update().get(pk=deliverable.pk)
        if title is not None:
            row.title = title
        if status is not None:
            row.status = status
        if content is not None:
            row.content = content
        # The title is in the prompt too: either change makes the display stale.
        if (
            source_hash(title=row.title, content=row.content) != row.content_hash
            and row.content_transformation_status == TransformationStatus.SUCCESS
        ):
            row.content_transformation_status = TransformationStatus.STALE
        row.updated_at = timezone.now()
        row.save()
    return row


def clear_display(*, deliverable_ids: list[int]) -> int:
    """Forget the display; the next read (or a re-transform) makes it again."""
    return Deliverable.objects.filter(pk__in=deliverable_ids).update(
        display_content="",
        display_format=DisplayFormat.HTML,
        display_source_hash="",
        transformation_timestamp=None,
        display_quality_score=None,
        ai_confidence=None,
        auto_display_generated=False,
        content_transformation_status=TransformationStatus.NONE,
        transform_lease_expires_at=None,
    )
