import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from deliverables import selectors, services
from deliverables.models import Deliverable, DeliverableStatus, DisplayFormat, TransformationStatus
from deliverables.sources import source_contents

# The page shows this many deliverables; the API pages through more.
PAGE_LIMIT = 200


@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    workspaces = selectors.workspaces_for(user=request.user).select_related("company")
    return render(request, "deliverables/workspace_list.html", {"workspaces": workspaces})


@dataclass(frozen=True)
class Card:
    """One deliverable on the workspace page, and what the page shows for it."""

    deliverable: Deliverable
    view: dict[str, Any]


@login_required
def workspace_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = get_object_or_404(
        selectors.workspaces_for(user=request.user).select_related("company"), pk=pk
    )
    page = selectors.deliverable_page(workspace=workspace, limit=PAGE_LIMIT)
    listing = services.serve_deliverables(workspace=workspace, page=page)
    current = {
        deliverable.pk
        for deliverable in listing.deliverables
        if services.is_current(deliverable, active_prompt_id=page.active_prompt_id)
    }
    showing_source = [
        deliverable.pk
        for deliverable in listing.deliverables
        if deliverable.status == DeliverableStatus.COMPLETED and deliverable.pk not in current
    ]
    sources = source_contents(workspace=workspace, ids=showing_source)
    cards = [
        Card(d, _view_of(d, current=d.pk in current, content=sources.get(d.pk)))
        for d in listing.deliverables
    ]
    return render(
        request,
        "deliverables/workspace_detail.html",
        {
            "workspace": workspace,
            "cards": cards,
            "stats": listing.stats,
            # The same enums as the models and the API, not string literals.
            "DeliverableStatus": DeliverableStatus,
            "DisplayFormat": DisplayFormat,
            "TransformationStatus": TransformationStatus,
        },
    )


def _source_text(content) -> str:
    """The source content as plain text (escaped by the template, never as HTML)."""
    if isinstance(content, str):
        return content
    return json.dumps(content, indent=2, ensure_ascii=False, sort_keys=True)


def _view_of(deliverable: Deliverable, *, current: bool, content) -> dict[str, Any]:
    """What the page shows for one deliverable, and a sentence saying what it is."""
    if current:
        return {"show": "display", "state": "current", "words": "Current display version."}
    if deliverable.status != DeliverableStatus.COMPLETED:
        return {"show": "none", "state": "", "words": ""}
    source = _source_text(content)
    if deliverable.content_transformation_status == TransformationStatus.PENDING:
        return {
            "show": "source",
            "source": source,
            "state": "generating",
            "words": "The display version is being prepared; this is the source content. "
            "It fills in by itself when the display is ready.",
            "waiting": True,
        }
    if deliverable.display_content:
        return {
            "show": "display",
            "state": "fallback",
            "words": "An earlier display version, made before the content last changed.",
        }
    return {
        "show": "source",
        "source": source,
        "state": "fallback",
        "words": "The display version could not be made right now; this is the source content.",
    }
