"""Reads shared by the API and the pages, scoped and with related rows loaded.

Every function here costs a fixed number of queries, whatever the number of rows.
"""

from django.db.models import Prefetch, QuerySet

from companies.models import Company
from recommendations.lifecycle import LIVE
from recommendations.models import (
    CompanyDomainProgress,
    CompanyStepProgress,
    ContextSnapshot,
    HealthSummary,
    Insight,
    JourneyDomain,
    JourneyStep,
    Recommendation,
    RecommendationEffectiveness,
    StepStatus,
)


def current_snapshot_or_none(*, company: Company) -> ContextSnapshot | None:
    return ContextSnapshot.objects.filter(company=company, is_current=True).first()


def live_recommendations(
    *, company: Company, context_hash: str, prompt_id: int, limit: int
) -> list[Recommendation]:
    """The seed's first query: live recommendations of the current context (and prompt
    version), newest first."""
    return list(
        Recommendation.objects.filter(
            company=company, context_hash=context_hash, prompt_id=prompt_id, status__in=LIVE
        ).select_related("step__domain", "effectiveness")[:limit]
    )


def fallback_recommendations(
    *, company: Company, exclude: list[int], limit: int
) -> list[Recommendation]:
    """Other live recommendations, newest first (the seed's fallback): those of earlier
    contexts, and of an earlier prompt version until they are replaced."""
    if limit <= 0:
        return []
    return list(
        Recommendation.objects.filter(company=company, status__in=LIVE)
        .exclude(pk__in=exclude)
        .select_related("step__domain", "effectiveness")[:limit]
    )


def next_steps(*, company: Company) -> list[JourneyStep]:
    """Steps the company has not completed: those in progress first, then journey order."""
    progress = dict(
        CompanyStepProgress.objects.filter(company=company).values_list("step_id", "status")
    )
    steps = [
        step
        for step in JourneyStep.objects.select_related("domain")
        if progress.get(step.id) != StepStatus.COMPLETED
    ]
    steps.sort(key=lambda s: progress.get(s.id) != StepStatus.IN_PROGRESS)  # stable
    return steps


def insights_queryset(
    *,
    company: Company,
    context_hash: str | None = None,
    domain: JourneyDomain | None = None,
    step: JourneyStep | None = None,
    live_only: bool = True,
) -> QuerySet[Insight]:
    """Insights of a company, most relevant first; by domain (its domain- and step-level
    insights) or by step."""
    qs = Insight.objects.filter(company=company).select_related("domain", "step")
    if context_hash is not None:
        qs = qs.filter(context_hash=context_hash)
    if live_only:
        qs = qs.filter(status__in=LIVE)
    if step is not None:
        qs = qs.filter(step=step)
    elif domain is not None:
        qs = qs.filter(domain=domain)
    return qs.order_by("-relevance_score", "-id")


def current_health_summary(
    *, company: Company, context_hash: str, prompt_id: int
) -> HealthSummary | None:
    return HealthSummary.objects.filter(
        company=company, context_hash=context_hash, prompt_id=prompt_id, status__in=LIVE
    ).first()


def latest_health_summary(*, company: Company) -> HealthSummary | None:
    return HealthSummary.objects.filter(company=company).order_by("-generated_at", "-id").first()


def journey_for(*, company: Company) -> list[JourneyDomain]:
    """Domains with their steps; each step carries `.company_progress` (or None) and each
    domain `.company_maturity` (0 when unknown)."""
    domains = list(
        JourneyDomain.objects.prefetch_related(
            Prefetch("steps", queryset=JourneyStep.objects.order_by("order", "id"))
        )
    )
    progress = {p.step_id: p for p in CompanyStepProgress.objects.filter(company=company)}
    levels = dict(
        CompanyDomainProgress.objects.filter(company=company).values_list(
            "domain_id", "maturity_level"
        )
    )
    for domain in domains:
        domain.company_maturity = levels.get(domain.id, 0)
        steps = list(domain.steps.all())
        for step in steps:
            step.company_progress = progress.get(step.id)
        domain.completed_count = sum(
            1
            for s in steps
            if s.company_progress and s.company_progress.status == StepStatus.COMPLETED
        )
        domain.step_count = len(steps)
    return domains


def effectiveness_queryset(*, company: Company) -> QuerySet[RecommendationEffectiveness]:
    return RecommendationEffectiveness.objects.filter(company=company).select_related(
        "recommendation__step__domain"
    )
