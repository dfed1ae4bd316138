"""Reads shared by the API and the pages, scoped and with related rows loaded.

Every function here costs a fixed number of queries, whatever the number of rows.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from companies.models import Company
from generation.models import Prompt
from recommendations.lifecycle import LIVE, Status
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

# The prompt keys of the three kinds of content (each kind's prompt key is its name).
CONTENT_KINDS = ("recommendation", "insight", "health_summary")


@dataclass(frozen=True)
class StepProgress:
    """A journey step with one company's status on it."""

    step: JourneyStep
    status: str = StepStatus.NOT_STARTED
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def status_label(self) -> str:
        return StepStatus(self.status).label


@dataclass(frozen=True)
class DomainProgress:
    """A journey domain with one company's maturity and its steps in order."""

    domain: JourneyDomain
    maturity: int
    steps: tuple[StepProgress, ...]

    @property
    def completed_count(self) -> int:
        return sum(1 for s in self.steps if s.status == StepStatus.COMPLETED)

    @property
    def step_count(self) -> int:
        return len(self.steps)


def lookups_of(*, company: Company) -> tuple[str | None, dict[str, int | None]]:
    """The company's current context hash and the active prompt version of each kind
    of content, in one query."""
    current = ContextSnapshot.objects.filter(company=OuterRef("pk"), is_current=True)
    row = (
        Company.objects.filter(pk=company.pk)
        .annotate(
            current_context_hash=Subquery(current.values("context_hash")[:1]),
            **{
                kind: Subquery(Prompt.objects.filter(key=kind, is_active=True).values("pk")[:1])
                for kind in CONTENT_KINDS
            },
        )
        .values("current_context_hash", *CONTENT_KINDS)
        .first()
    ) or {"current_context_hash": None}
    return row["current_context_hash"], {kind: row.get(kind) for kind in CONTENT_KINDS}


def journey_for(*, company: Company) -> list[DomainProgress]:
    """Domains in journey order with the company's maturity, each with its steps in
    order and the company's status on each. Two queries."""
    maturity = CompanyDomainProgress.objects.filter(company=company, domain=OuterRef("pk"))
    domains = JourneyDomain.objects.annotate(
        company_maturity=Coalesce(Subquery(maturity.values("maturity_level")[:1]), 0)
    )
    progress = {
        p.step_id: p
        for p in CompanyStepProgress.objects.filter(company=company).only(
            "step_id", "status", "started_at", "completed_at"
        )
    }
    by_domain: dict[int, list[StepProgress]] = {}
    for step in JourneyStep.objects.order_by("domain_id", "order", "id"):
        row = progress.get(step.pk)
        by_domain.setdefault(step.domain_id, []).append(
            StepProgress(step=step)
            if row is None
            else StepProgress(step, row.status, row.started_at, row.completed_at)
        )
    journey = []
    for domain in domains:
        steps = tuple(by_domain.get(domain.pk, ()))
        for entry in steps:
            entry.step.domain = domain  # the step's own relation: no query to reach it
        journey.append(DomainProgress(domain, domain.company_maturity, steps))
    return journey


def domain_in(journey: list[DomainProgress], value: str) -> JourneyDomain | None:
    """The journey's domain with this id or slug."""
    for entry in journey:
        if value in (str(entry.domain.pk), entry.domain.slug):
            return entry.domain
    return None


def step_in(journey: list[DomainProgress], pk: int) -> JourneyStep | None:
    """The journey's step with this id (its domain loaded)."""
    for entry in journey:
        for progress in entry.steps:
            if progress.step.pk == pk:
                return progress.step
    return None


def next_steps(*, journey: list[DomainProgress]) -> list[StepProgress]:
    """Steps the company has not completed: those in progress first, then journey order."""
    steps = [s for d in journey for s in d.steps if s.status != StepStatus.COMPLETED]
    steps.sort(key=lambda s: s.status != StepStatus.IN_PROGRESS)  # stable
    return steps


def current_snapshot_or_none(*, company: Company) -> ContextSnapshot | None:
    return ContextSnapshot.objects.filter(company=company, is_current=True).first()


def has_uncovered_steps(*, company: Company, context_hash: str, prompt_id: int) -> bool:
    """Whether a step the company has not completed has no recommendation covering it:
    a completed one of this context, a live one of this context and prompt version, or
    a live one of another context (one someone started survives context changes).
    One query; false means a recommendations read has nothing to generate."""
    covered = Recommendation.objects.filter(
        covering(context_hash=context_hash, prompt_id=prompt_id),
        company=company,
        step__isnull=False,
    ).values("step_id")
    completed = CompanyStepProgress.objects.filter(
        company=company, status=StepStatus.COMPLETED
    ).values("step_id")
    return JourneyStep.objects.exclude(pk__in=completed).exclude(pk__in=covered).exists()


def covering(*, context_hash: str, prompt_id: int) -> Q:
    """Recommendations that cover their step for this context and prompt version."""
    here = Q(context_hash=context_hash)
    return (
        (here & Q(status=Status.COMPLETED))
        | (here & Q(status__in=LIVE, prompt_id=prompt_id))
        | (~here & Q(status__in=LIVE))
    )


def current_recommendations(
    *, company: Company, context_hash: str, prompt_id: int, limit: int
) -> list[Recommendation]:
    """What the company works on, then what is current, in one query: the started
    recommendations (active with a start time, whatever their context or prompt
    version: they stay until completed or expired), then the live recommendations of
    the current context and prompt version, newest first."""
    started = Q(status__in=[Status.ACTIVE, Status.REGENERATING], started_at__isnull=False)
    current = Q(context_hash=context_hash, prompt_id=prompt_id, status__in=LIVE)
    return list(
        Recommendation.objects.filter(started | current, company=company)
        .select_related("step__domain")
        .order_by(F("started_at").desc(nulls_last=True), "-generated_at", "-id")[:limit]
    )


def fallback_recommendations(
    *, company: Company, exclude: list[int], limit: int
) -> list[Recommendation]:
    """Other live recommendations, newest first: those of earlier contexts, and of an
    earlier prompt version until they are replaced."""
    if limit <= 0:
        return []
    return list(
        Recommendation.objects.filter(company=company, status__in=LIVE)
        .exclude(pk__in=exclude)
        .select_related("step__domain")[:limit]
    )


def earlier_recommendations(
    *,
    company: Company,
    context_hash: str,
    exclude: list[int],
    exclude_steps: list[int | None],
    limit: int,
) -> list[Recommendation]:
    """When the current ones cannot be made: the most recent earlier recommendations,
    whatever their stored status, those of the current context first, one per step
    (steps already on the page left out)."""
    if limit <= 0:
        return []
    rows = (
        Recommendation.objects.filter(company=company)
        .exclude(pk__in=exclude)
        .exclude(step_id__in=[s for s in exclude_steps if s is not None])
        .annotate(here=Case(When(context_hash=context_hash, then=Value(0)), default=Value(1)))
        .select_related("step__domain")
        .order_by("here", "-generated_at", "-id")[: limit * 4 + 8]
    )
    picked: list[Recommendation] = []
    seen: set[int | None] = set()
    for row in rows:
        if row.step_id is not None and row.step_id in seen:
            continue
        seen.add(row.step_id)
        picked.append(row)
        if len(picked) == limit:
            break
    return picked


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
    qs = Insight.objects.filter(company=company).select_related("domain", "step__domain")
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


def effectiveness_queryset(*, company: Company) -> QuerySet[RecommendationEffectiveness]:
    """Newest first, on the (company, created_at, id) index; paginated by the API."""
    return (
        RecommendationEffectiveness.objects.filter(company=company)
        .select_related("recommendation__step__domain")
        .order_by("-created_at", "-id")
    )
