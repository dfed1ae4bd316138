"""Pages: the user's companies, the company dashboard and its controls.

Views parse, call one service or selector and render; every control is a plain POST
that redirects back to the dashboard (pages.js posts it with fetch and swaps the
regions in place). Provider errors go to the log; the page says it in words."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from companies.selectors import companies_for
from core.errors import IllegalTransition
from recommendations import selectors, services
from recommendations.lifecycle import Status
from recommendations.models import JourneyStep, Recommendation, StepStatus

logger = logging.getLogger(__name__)

UNAVAILABLE = "The model is unavailable right now"
KIND_NAMES = {
    services.KIND_RECOMMENDATION: "A recommendation",
    services.KIND_INSIGHT: "Peer insights",
    services.KIND_HEALTH: "The health summary",
}


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


def _company(request: HttpRequest, company_id: int, *, read_with=None):
    company = services.company_for_read(
        user=request.user, company_id=company_id, read_with=read_with
    )
    if company is None:
        raise Http404
    return company


def _state(item, *, context_hash: str, model_down: bool) -> tuple[str, str]:
    """(css class, a sentence) saying whether the item is new, current, being
    regenerated, or an earlier version shown because the model is unavailable."""
    if item.status == Status.COMPLETED:
        return "current", "Completed."
    earlier = item.status == Status.STALE or item.context_hash != context_hash
    if earlier and model_down:
        return "fallback", "An earlier version, shown because the model is unavailable right now."
    if earlier:
        return "generating", "An earlier version, shown while a new one is being made."
    if getattr(item, "was_fresh", False):
        return "new", "New: made for your current situation."
    return "current", "Current."


@login_required
def dashboard(request: HttpRequest, company_id: int) -> HttpResponse:
    """Journey progress, recommendations, insights and health. A provider that is down
    degrades a section to a sentence; the page itself always renders."""
    # The membership check, current context, active prompts, journey, recommendations,
    # health, content being written and the navigation: one statement for the page.
    limit = settings.RECOMMENDATIONS_DEFAULT_LIMIT
    read_with = selectors.company_page_read(user=request.user, limit=limit)
    company = _company(request, company_id, read_with=read_with)
    nav_companies = selectors.nav_companies_for(company=company, user=request.user)
    journey = selectors.journey_for(company=company)
    for domain in journey:
        for step in domain.journey_steps:
            # The step's status control, chosen here: ~200 template lookups fewer.
            current = step.company_progress.status if step.company_progress else None
            current = current or StepStatus.NOT_STARTED
            step.status_options = [
                (value, label, value == current) for value, label in StepStatus.choices
            ]
    notices: list[str] = []
    down = {"recommendations": False, "insights": False, "health": False}

    recommendations, context_hash = [], ""
    try:
        page = services.recommendations_for(company=company, limit=limit)
        recommendations, context_hash = page.items, page.context_hash
        if page.error:
            logger.warning("dashboard %s: recommendations: %s", company.pk, page.error)
            down["recommendations"] = True
            notices.append(f"{UNAVAILABLE}: some recommendations could not be made yet.")
    except services.GENERATION_FAILURES as exc:
        logger.warning("dashboard %s: recommendations: %s", company.pk, exc.message)
        down["recommendations"] = True
        notices.append(f"{UNAVAILABLE}, and there are no earlier recommendations to show.")

    insights, focus = [], None
    domain, step = services.resolve_insight_target(
        company=company, domain=None, step=None, journey=journey
    )
    if domain is not None:
        focus = domain
        # The API's function: current insights, made if missing, else earlier ones.
        try:
            insights_page = services.insights_for(
                company=company, domain=domain, step=step, take=lambda rows: list(rows[:5])
            )
            insights = insights_page.items
            if insights_page.error:
                logger.warning("dashboard %s: insights: %s", company.pk, insights_page.error)
                down["insights"] = True
                notices.append(f"{UNAVAILABLE}: new peer insights could not be made.")
        except services.GENERATION_FAILURES as exc:
            logger.warning("dashboard %s: insights: %s", company.pk, exc.message)
            down["insights"] = True
            notices.append(f"{UNAVAILABLE}: new peer insights could not be made.")

    health = None
    try:
        health_page = services.health_summary_for(company=company)
        health = health_page.items[0]
        if health_page.error:
            logger.warning("dashboard %s: health: %s", company.pk, health_page.error)
            down["health"] = True
    except services.GENERATION_FAILURES as exc:
        logger.warning("dashboard %s: health: %s", company.pk, exc.message)
        down["health"] = True
        notices.append(f"{UNAVAILABLE}, and there is no earlier health summary to show.")

    context_hash = context_hash or services.lookups_for(company).current_hash()
    # The one the company is working on first, then the others in the service's order.
    recommendations = sorted(
        recommendations, key=lambda r: not (r.status == Status.ACTIVE and r.started_at)
    )
    for item in recommendations:
        item.state = _state(item, context_hash=context_hash, model_down=down["recommendations"])
    for item in insights:
        item.state = _state(item, context_hash=context_hash, model_down=down["insights"])
    if health is not None:
        health.state = _state(health, context_hash=context_hash, model_down=down["health"])
    live = [
        {"generation": g, "label": KIND_NAMES.get(g.kind, g.kind)}
        for g in selectors.live_generations_for(company=company)
    ]
    return render(
        request,
        "recommendations/dashboard.html",
        {
            "company": company,
            # The role came with the company (services.company_for_read): no query.
            "can_edit": company.read_lookups.reader_can_write,
            "journey": journey,
            "recommendations": recommendations,
            "insights": insights,
            "focus_domain": focus,
            "health": health,
            "live": live,
            "notices": notices,
            "nav_companies": nav_companies,
        },
    )


def _back(company_id: int, anchor: str) -> HttpResponse:
    return redirect(reverse("company-dashboard", args=[company_id]) + f"#{anchor}")


def _writable_company(request: HttpRequest, company_id: int):
    company = _company(request, company_id)
    if not company.read_lookups.reader_can_write:
        raise PermissionDenied
    return company


def _recommendation(company, pk: int) -> Recommendation:
    return get_object_or_404(Recommendation.objects.filter(company=company), pk=pk)


@login_required
@require_POST
def recommendation_action(request: HttpRequest, company_id: int, pk: int, action: str):
    """Start or complete a recommendation, as the API's start and complete endpoints."""
    company = _writable_company(request, company_id)
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
        messages.warning(request, f"That recommendation cannot be {done} now.")
    return _back(company.pk, f"rec-{rec.pk}")


@login_required
@require_POST
def recommendation_feedback(request: HttpRequest, company_id: int, pk: int):
    company = _writable_company(request, company_id)
    rec = _recommendation(company, pk)
    try:
        rating = int(request.POST.get("rating", ""))
    except ValueError:
        rating = 0
    if not 1 <= rating <= 5:
        messages.warning(request, "Choose a rating from 1 to 5.")
        return _back(company.pk, f"rec-{rec.pk}")
    helpful = {"yes": True, "no": False}.get(request.POST.get("helpful", ""))
    comment = request.POST.get("comment", "")[:2000]
    services.record_feedback(
        recommendation=rec, rating=rating, helpful=helpful, comment=comment, by=request.user
    )
    messages.success(request, "Thank you for your feedback.")
    return _back(company.pk, f"rec-{rec.pk}")


@login_required
@require_POST
def step_progress(request: HttpRequest, company_id: int, step_id: int):
    """Set the company's status on a step, as the API's step progress endpoint."""
    company = _writable_company(request, company_id)
    step = get_object_or_404(JourneyStep.objects.select_related("domain"), pk=step_id)
    status = request.POST.get("status", "")
    if status not in StepStatus.values:
        messages.warning(request, "Choose a status for the step.")
    else:
        services.update_step_progress(company=company, step=step, status=status)
    return _back(company.pk, "journey")
