"""The content lifecycle as data: one status table used by models, API and admin.

fresh -> active -> completed, fresh|active -> stale. An admin's "Regenerate" takes
fresh|active to regenerating: still served (members see "being regenerated") until
the new content lands and replaces it (regenerating -> stale). Stale content is
replaced by new content, never revived, so stale and completed are terminal.
"""

from django.db import models

from core.errors import IllegalTransition


class Status(models.TextChoices):
    FRESH = "fresh", "Fresh"  # generated, not yet shown to anyone
    ACTIVE = "active", "Active"  # shown at least once (and possibly started)
    COMPLETED = "completed", "Completed"
    STALE = "stale", "Stale"  # outdated by context, age or an admin; replaced on next read
    # Still served while the model is asked again for it; stale once the new one is stored.
    REGENERATING = "regenerating", "Being regenerated"


ALLOWED: dict[str, set[str]] = {
    Status.FRESH: {Status.ACTIVE, Status.STALE, Status.REGENERATING},
    Status.ACTIVE: {Status.COMPLETED, Status.STALE, Status.REGENERATING},
    Status.REGENERATING: {Status.STALE},
    Status.COMPLETED: set(),
    Status.STALE: set(),
}

# Content in these states is still served; the others are history.
LIVE = (Status.FRESH, Status.ACTIVE, Status.REGENERATING)


def sources_of(target: str) -> list[str]:
    """The statuses the table lets become `target` (for a bulk, conditional UPDATE)."""
    return [status for status, targets in ALLOWED.items() if target in targets]


def check_transition(current: str, target: str) -> None:
    if target not in ALLOWED.get(current, set()):
        raise IllegalTransition(
            f"A {current} item cannot become {target}.", current=current, requested=target
        )


def presented_status(current: str) -> str:
    """The status a row takes when it is shown: the first showing makes fresh active."""
    return Status.ACTIVE if current == Status.FRESH else current


assert Status.ACTIVE in ALLOWED[Status.FRESH]  # presented_status relies on this edge
