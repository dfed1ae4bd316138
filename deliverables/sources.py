"""The source content of deliverables, for the page to show while their display is
pending (the listing query leaves it out: it is only needed for those few)."""

from typing import Any

from deliverables.models import Deliverable, Workspace


def source_contents(*, workspace: Workspace, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return dict(
        Deliverable.objects.filter(workspace=workspace, pk__in=ids).values_list("pk", "content")
    )
