"""Pages: the user's companies, the company dashboard and its controls.

Views parse, call one service or selector and render; every control is a plain POST
that redirects back to the dashboard (pages.js posts it with fetch and swaps the
regions in place). Provider errors go to the log; the page says it in words."""

import logging
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from companies.models import WRITE_ROLES
from companies.selectors import companies_for, membership_for
from core.errors import IllegalTransition
from recommendations import services
from recommendations.models import JourneyStep, Recommendation, StepStatus

logger = logging.getLogger(__name__)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    companies = companies_for(user=request.user).order_by("name")
    return render(request, "recommendations/home.html", {"companies": companies})


@login_required
@require_GET
def company_pick(request: HttpRequest) -> HttpResponse:
    """The navigation's picker: open the chosen company's dashboard (404 if not yours)."""
    company = companies_for(user=request.user).filter(pk=request.GET.get("company") or 0).first()
    if company is None:
        raise Http404
    return redirect("company-dashboard", company_id=company.pk)


@login_required
def dashboard(request: HttpRequest, company_id: int) -> HttpResponse:
    """Journey progress, recommendations, insights and health (services.dashboard_for)."""
    page = services.dashboard_for(
        user=request.user, company_id=company_id, refresh=_is_refresh(request)
    )
    if page is None:
        raise Http404
    return render(
        request,
        "recommendations/dashboard.html",
        {
            "page": page,
            "company": page.company,
            "nav_companies": page.nav_companies,
        },
    )


def _is_refresh(request: HttpRequest) -> bool:
    """The page re-reading its own regions (pages.js), not a person opening it."""
    return request.headers.get("X-Evergreen-Refresh") == "1"


def _answer(request: HttpRequest, company_id: int, anchor: str, message: str, *, status=200):
    """An action's answer: for the page's own fetch, at once, the confirmation to show
    next to the control (what the action caused streams in afterwards); without
    JavaScript, the message and a redirect back to the dashboard."""
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"message": message}, status=status)
    (messages.success if status == 200 else messages.warning)(request, message)
    return redirect(reverse("company-dashboard", args=[company_id]) + f"#{anchor}")


READ_ONLY = "Not saved: your role in this company lets you read this page, not change it."


def writable(view):
    """Runs the view with the company when the user may act on it: another company is a
    404; a read-only member is refused in words, next to the control for the page's own
    fetch (what was typed stays in the form), the branded 403 page otherwise."""

    @wraps(view)
    def wrapper(request: HttpRequest, company_id: int, **kwargs):
        membership = membership_for(user=request.user, company_id=company_id)
        if membership is None:
            raise Http404
        if membership.role not in WRITE_ROLES:
            if "application/json" in request.headers.get("Accept", ""):
                return JsonResponse({"message": READ_ONLY}, status=403)
            raise PermissionDenied
        return view(request, membership.company, **kwargs)

    return wrapper


def _recommendation(company, pk: int) -> Recommendation:
    return get_object_or_404(Recommendation.objects.filter(company=company), pk=pk)


@login_required
@require_POST
@writable
def recommendation_action(request: HttpRequest, company, pk: int, action: str):
    """Start or complete a recommendation, as the API's start and complete endpoints."""
    rec = _recommendation(company, pk)
    acts = {
        "start": (services.start_recommendation, "started"),
        "complete": (services.complete_recommendation, "completed"),
    }
    if action not in acts:
        raise Http404
    act, done = acts[action]
    try:
        act(recommendation=rec)
    except IllegalTransition:
        return _answer(
            request, company.pk, f"rec-{rec.pk}", f"It cannot be {done} now.", status=409
        )
    return _answer(request, company.pk, f"rec-{rec.pk}", f"Saved: {done}.")


@login_required
@require_POST
@writable
def recommendation_feedback(request: HttpRequest, company, pk: int):
    rec = _recommendation(company, pk)
    try:
        rating = int(request.POST.get("rating", ""))
    except ValueError:
        rating = 0
    if not 1 <= rating <= 5:
        return _answer(
            request, company.pk, f"rec-{rec.pk}", "Choose a rating from 1 to 5.", status=400
        )
    helpful = {"yes": True, "no": False}.get(request.POST.get("helpful", ""))
    comment = request.POST.get("comment", "")[:2000]
    services.record_feedback(
        recommendation=rec, rating=rating, helpful=helpful, comment=comment, by=request.user
    )
    return _answer(request, company.pk, f"rec-{rec.pk}", "Thank you for your feedback.")


@login_required
@require_POST
@writable
def step_progress(request: HttpRequest, company, step_id: int):
    """Set the company's status on a step, as the API's step progress endpoint."""
    step = get_object_or_404(JourneyStep.objects.select_related("domain"), pk=step_id)
    status = request.POST.get("status", "")
    anchor = f"step-{step.pk}"
    if status not in StepStatus.values:
        return _answer(request, company.pk, anchor, "Choose a status for the step.", status=400)
    services.update_step_progress(company=company, step=step, status=status)
    label = StepStatus(status).label.lower()
    return _answer(request, company.pk, anchor, f"Saved: {step.name} is {label}.")
