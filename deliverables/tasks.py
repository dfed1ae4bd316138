"""Django-Q2 entry points: load by id, call one service; safe to run twice."""

from deliverables import services


def transform(deliverable_id: int, force: bool = False) -> str | None:
    outcome = services.transform_deliverable(deliverable_id=deliverable_id, force=force)
    return outcome.source if outcome else None
