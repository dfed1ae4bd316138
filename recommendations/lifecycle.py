"""The content lifecycle as data: one status table used by models, API and admin.

fresh -> active -> completed, fresh|active -> stale. Stale content is replaced by
new content, never revived, so stale and completed are terminal.
"""

from django.db import models

from core.errors import IllegalTransition


class Status(models.TextChoices):
    FRESH = "fresh", "Fresh"  # generated, not yet shown to anyone
    ACTIVE = "active", "Active"  # shown at least once (and possibly started)
    COMPLETED = "completed", "Completed"
    STALE = "stale", "Stale"  # outdated by context, age or an admin; replaced on next read


ALLOWED: dict[str, set[str]] = {
    Status.FRESH: {Status.ACTIVE, Status.STALE},
    Status.ACTIVE: {Status.COMPLETED, Status.STALE},
    Status.COMPLETED: set(),
    Status.STALE: set(),
}

# Content in these states is still served; the others are history.
LIVE = (Status.FRESH, Status.ACTIVE)


def check_transition(current: str, target: str) -> None:
    if target not in ALLOWED.get(current, set()):
        raise IllegalTransition(
            f"A {current} item cannot become {target}.", current=current, requested=target
        )


def presented_status(current: str) -> str:
    """The status a row takes when it is shown: the first showing makes fresh active."""
    return Status.ACTIVE if current == Status.FRESH else current


assert Status.ACTIVE in ALLOWED[Status.FRESH]  # presented_status relies on this edge
