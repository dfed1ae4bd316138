from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from deliverables import selectors, services
from deliverables.models import DeliverableStatus, DisplayFormat, TransformationStatus

# The page shows this many deliverables; the API pages through more.
PAGE_LIMIT = 200


@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    workspaces = selectors.workspaces_for(user=request.user).select_related("company")
    return render(request, "deliverables/workspace_list.html", {"workspaces": workspaces})


@login_required
def workspace_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = get_object_or_404(
        selectors.workspaces_for(user=request.user).select_related("company"), pk=pk
    )
    rows, _ = selectors.deliverable_page(workspace=workspace, limit=PAGE_LIMIT)
    listing = services.serve_deliverables(workspace=workspace, rows=rows)
    return render(
        request,
        "deliverables/workspace_detail.html",
        {
            "workspace": workspace,
            "deliverables": listing.rows,
            "stats": listing.stats,
            # The same enums as the models and the API, not string literals.
            "DeliverableStatus": DeliverableStatus,
            "DisplayFormat": DisplayFormat,
            "TransformationStatus": TransformationStatus,
        },
    )
