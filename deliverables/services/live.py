"""What the workspace page follows live: where each display it waits for stands.
Its event stream (deliverables.sse) reads these states again whenever a writer's
wake-up (services.wakeups) arrives."""

from enum import StrEnum

from django.utils import timezone

from deliverables import selectors
from deliverables.models import TransformationStatus
from deliverables.services.displays import is_current
from deliverables.services.queue import is_queued


class DisplayState(StrEnum):
    """Where a deliverable's display stands, as the workspace page shows it."""

    CURRENT = "current"  # made from this content by the active prompt: shown
    PENDING = "pending"  # queued, or being made right now
    FAILED = "failed"  # the last attempt failed: the source or an earlier display is shown
    NONE = "none"  # not current, and nobody is making it
    GONE = "gone"  # no such deliverable in this workspace (any more)


def display_states(*, workspace_id: int, ids: list[int]) -> dict[int, DisplayState]:
    """The state of each of `ids`, as the page decides it: current first; then pending
    while a task's claim or a display generation runs (even over an earlier failure:
    it is being made again); then failed; otherwise none. At most two queries."""
    if not ids:
        return {}
    page = selectors.deliverables_in(workspace_id=workspace_id, ids=ids)
    now = timezone.now()
    states = dict.fromkeys(ids, DisplayState.GONE)
    unsettled = []
    for deliverable in page.deliverables:
        if is_current(deliverable, active_prompt_id=page.active_prompt_id):
            states[deliverable.pk] = DisplayState.CURRENT
        elif is_queued(deliverable, now):
            states[deliverable.pk] = DisplayState.PENDING
        else:
            unsettled.append(deliverable)
    being_made = selectors.displays_being_made(deliverable_ids=[d.pk for d in unsettled], now=now)
    for deliverable in unsettled:
        if deliverable.pk in being_made:
            states[deliverable.pk] = DisplayState.PENDING
        elif deliverable.content_transformation_status == TransformationStatus.FAILED:
            states[deliverable.pk] = DisplayState.FAILED
        else:
            states[deliverable.pk] = DisplayState.NONE
    return states
