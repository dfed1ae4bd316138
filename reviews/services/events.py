"""Run events: the append-only trail of a run, and what its live clients follow."""

from django.db import transaction

from generation.events import notify
from reviews.models import Run, RunEvent


def run_key(run_id) -> str:
    """The hub key live clients of a run wait on."""
    return f"run:{run_id}"


def append_event(*, run_id, event_type: str, step: str = "", persona_key: str = "", data=None):
    """Append a RunEvent; call inside a transaction. The run's row is locked first, so a
    run's events are committed in id order and a reader resuming after an id skips none."""
    Run.objects.select_for_update().filter(pk=run_id).values_list("pk", flat=True).first()
    event = RunEvent.objects.create(
        run_id=run_id, type=event_type, step=step, persona_key=persona_key, data=data or {}
    )
    transaction.on_commit(lambda: notify(run_key(run_id)))
    return event
