"""Pages: the review runs with a form to submit an idea and the metrics, and a run page
that follows the run live (EventSource) and is complete without JavaScript."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from companies.selectors import can_write, companies_for
from reviews import selectors, services
from reviews.errors import public_error
from reviews.serializers import MAX_IDEA


@login_required
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest) -> HttpResponse:
    companies = list(companies_for(user=request.user).order_by("name"))
    error = ""
    if request.method == "POST":
        idea = request.POST.get("idea", "").strip()
        company = next((c for c in companies if str(c.pk) == request.POST.get("company")), None)
        if company is None or not idea or len(idea) > MAX_IDEA:
            error = "Choose one of your companies and describe the idea."
        elif not can_write(user=request.user, company=company):
            raise PermissionDenied
        else:
            run, _ = services.create_run(company=company, user=request.user, idea=idea)
            return redirect("review-run-page", pk=run.pk)
    runs = selectors.run_list(user=request.user)[:50]
    return render(
        request,
        "reviews/runs.html",
        {
            "companies": companies,
            "runs": runs,
            "error": error,
            "metrics": selectors.metrics(user=request.user),
        },
    )


@login_required
def run_page(request: HttpRequest, pk) -> HttpResponse:
    run = get_object_or_404(selectors.run_detail_queryset(user=request.user), pk=pk)
    last_event = run.events.order_by("-id").values_list("id", flat=True).first() or 0
    proposal = getattr(run, "proposal", None) if hasattr(run, "proposal") else None
    return render(
        request,
        "reviews/run.html",
        {
            "run": run,
            "proposal": proposal,
            "sections": _sections(proposal),
            "decision": getattr(run, "decision", None) if hasattr(run, "decision") else None,
            # The provider's own words stay in the admin: the page shows the public error.
            "error": public_error(run.error) if run.error else None,
            "reviews": list(run.reviews.all()),
            "last_event": last_event,
            "timeline": selectors.timeline(run=run),
        },
    )


def _sections(proposal) -> list[dict]:
    """The proposal's sections as (title, text or list of items), for the template to
    escape; model text is never marked safe."""
    if proposal is None:
        return []
    sections = []
    for name, value in (proposal.expanded_proposal or {}).items():
        items = [str(v) for v in value] if isinstance(value, list | tuple) else None
        sections.append(
            {
                "title": str(name).replace("_", " ").capitalize(),
                "items": items,
                "text": "" if items is not None else str(value),
            }
        )
    return sections
