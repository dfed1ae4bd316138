"""Pages: the list of the user's companies and the company dashboard."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from companies.selectors import companies_for
from generation.errors import ProviderUnavailable
from recommendations import selectors, services


@login_required
def home(request: HttpRequest) -> HttpResponse:
    companies = companies_for(user=request.user).order_by("name")
    return render(request, "recommendations/home.html", {"companies": companies})


@login_required
def dashboard(request: HttpRequest, company_id: int) -> HttpResponse:
    """Journey progress, recommendations, insights and health. A provider that is down
    degrades a section to a notice; the page itself always renders."""
    # The membership check, current context and active prompts: one query for the page.
    company = services.company_for_read(user=request.user, company_id=company_id)
    if company is None:
        raise Http404
    journey = selectors.journey_for(company=company)
    notices: list[str] = []

    recommendations, context_hash = [], ""
    try:
        page = services.recommendations_for(company=company)
        recommendations, context_hash = page.items, page.context_hash
        if page.error:
            notices.append(f"Some recommendations could not be made: {page.error}")
    except ProviderUnavailable as exc:
        notices.append(f"Recommendations are unavailable: {exc.message}")

    insights, focus = [], None
    domain, step = services.resolve_insight_target(company=company, domain=None, step=None)
    if domain is not None:
        focus = domain
        current = services.lookups_for(company).current_hash()
        insights = list(
            selectors.insights_queryset(company=company, context_hash=current, domain=domain)[:5]
        )
        if not services.insights_cover_target(
            company=company, rows=insights, domain=domain, step=step
        ):
            current, error = services.ensure_insights(company=company, domain=domain, step=step)
            insights = list(
                selectors.insights_queryset(company=company, context_hash=current, domain=domain)[
                    :5
                ]
            )
            if error:
                notices.append(f"Insights could not be made: {error}")
        services.present(rows=insights)

    health = None
    try:
        health = services.health_summary_for(company=company).items[0]
    except ProviderUnavailable as exc:
        notices.append(f"The health summary is unavailable: {exc.message}")

    context_hash = context_hash or services.lookups_for(company).current_hash()
    return render(
        request,
        "recommendations/dashboard.html",
        {
            "company": company,
            "journey": journey,
            "recommendations": recommendations,
            "insights": insights,
            "focus_domain": focus,
            "health": health,
            "context_hash": context_hash,
            "notices": notices,
        },
    )
