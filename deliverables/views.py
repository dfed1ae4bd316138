from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from deliverables import selectors, services
from deliverables.cards import PAGE_LIMIT, cards_for, requested_ids
from deliverables.models import DeliverableStatus, DisplayFormat, TransformationStatus, Workspace

# The same enums as the models and the API, not string literals.
ENUMS = {
    "DeliverableStatus": DeliverableStatus,
    "DisplayFormat": DisplayFormat,
    "TransformationStatus": TransformationStatus,
}


@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    workspaces = selectors.workspaces_for(user=request.user).select_related("company")
    return render(request, "deliverables/workspace_list.html", {"workspaces": workspaces})


def _workspace(request: HttpRequest, pk: int) -> Workspace:
    return get_object_or_404(
        selectors.workspaces_for(user=request.user).select_related("company"), pk=pk
    )


@login_required
def workspace_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The page: the cache-first listing (it counts its cache hits, once per view)."""
    workspace = _workspace(request, pk)
    page = selectors.deliverable_page(workspace=workspace, limit=PAGE_LIMIT)
    listing = services.serve_deliverables(workspace=workspace, page=page)
    cards = cards_for(
        workspace=workspace,
        deliverables=listing.deliverables,
        active_prompt_id=page.active_prompt_id,
    )
    context = {"workspace": workspace, "cards": cards, "stats": listing.stats, **ENUMS}
    return render(request, "deliverables/workspace_detail.html", context)


@require_GET
@login_required
def workspace_cards(request: HttpRequest, pk: int) -> HttpResponse:
    """`?ids=1,2`: those cards as they stand, for the page's script to swap in when a
    display lands. A read of the rows only: it transforms nothing, queues nothing and
    counts no cache hit (the page view that showed them counted its own)."""
    workspace = _workspace(request, pk)
    found = selectors.deliverables_in(
        workspace_id=workspace.pk, ids=requested_ids(request.GET.get("ids", ""))
    )
    cards = cards_for(
        workspace=workspace,
        deliverables=found.deliverables,
        active_prompt_id=found.active_prompt_id,
    )
    return render(request, "deliverables/cards.html", {"cards": cards, **ENUMS})
