"""Reads shared by the API and the pages, scoped and with related rows loaded.

Every function here costs a fixed number of queries, whatever the number of rows.
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from companies.models import Company, Membership
from companies.selectors import token_memberships
from core.prepared import JoinedQuery, Preloaded, PreparedQuery, PreparedRows, Tail, page_of
from generation.live import in_progress_for
from generation.models import Generation, Prompt
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


def current_context_of(company) -> Subquery:
    """The company's current context hash, as a subquery (`company`: an id or OuterRef)."""
    return Subquery(
        ContextSnapshot.objects.filter(company=company, is_current=True).values("context_hash")[:1]
    )


def active_prompt_of(kind: str) -> Subquery:
    """The id of the active prompt version of `kind`, as a subquery."""
    return Subquery(Prompt.objects.filter(key=kind, is_active=True).values("pk")[:1])


def with_read_lookups(queryset: QuerySet, company: str = "pk") -> QuerySet:
    """Rows annotated with what every read of a company's content needs: the current
    context hash (`current_context_hash`) and the active prompt version of each kind
    (`active_prompt_<kind>`), in the query that loads the company. `company` names
    the company's id in the queryset's rows (companies by default; memberships say
    "company_id")."""
    return queryset.annotate(
        current_context_hash=current_context_of(OuterRef(company)),
        **{f"active_prompt_{kind}": active_prompt_of(kind) for kind in CONTENT_KINDS},
    )


def _company_for_read(user_id: int, company_id: int) -> QuerySet[Company]:
    role = Membership.objects.filter(company=OuterRef("pk"), user_id=user_id).values("role")
    return with_read_lookups(
        Company.objects.filter(pk=company_id, memberships__user_id=user_id)
    ).annotate(member_role=Subquery(role[:1]))[:1]


_COMPANY_FOR_READ = PreparedQuery(_company_for_read, user_id=int, company_id=int)


def company_for_read(
    *,
    user: AbstractBaseUser | AnonymousUser,
    company_id: int,
    read_with: tuple[JoinedQuery, dict[str, Any]] | None = None,
) -> Company | None:
    """One of the user's companies (the membership check) with its read lookups and the
    user's role (`member_role`), in one query; None when the user may not see it.
    `read_with`: a JoinedQuery over this query (COMPANY_PAGE_READ) and its values; what
    it reads with the company waits in `company.preloaded`."""
    if not user.is_authenticated:
        return None
    if read_with is None:
        rows, preloaded = _COMPANY_FOR_READ(user_id=user.pk, company_id=company_id), None
    else:
        query, values = read_with
        rows, preloaded = query(user_id=user.pk, company_id=company_id, **values)
    if not rows:
        return None
    rows[0].preloaded = preloaded
    return rows[0]


# Token authentication, the membership check, the company and its read lookups in
# one query (companies.permissions.RouteMembershipMixin).
READ_MEMBERSHIP = PreparedQuery(
    lambda key, company_id: with_read_lookups(
        token_memberships(key=key).filter(company_id=company_id), company="company_id"
    )[:1],
    key=str,
    company_id=int,
)


def preloaded_for(company: Company) -> Preloaded | None:
    """The content the request's authentication read with its membership (a
    JoinedQuery), for the read that runs next; None outside such a request."""
    lookups = getattr(company, "read_lookups", None)
    return lookups.preloaded if lookups is not None else None


def current_snapshot_or_none(*, company: Company) -> ContextSnapshot | None:
    return ContextSnapshot.objects.filter(company=company, is_current=True).first()


def has_uncovered_steps(*, company: Company, context_hash: str, prompt_id: int) -> bool:
    """Whether a step the company has not completed has no recommendation covering it:
    a completed one of this context, a live one of this context and prompt version, or
    a live one of another context (one someone started survives context changes).
    One query; false means a recommendations read has nothing to generate."""
    here = Q(context_hash=context_hash)
    covered = (
        Recommendation.objects.filter(company=company, step__isnull=False)
        .filter(
            (here & Q(status=Status.COMPLETED))
            | (here & Q(status__in=LIVE, prompt_id=prompt_id))
            | (~here & Q(status__in=LIVE))
        )
        .values("step_id")
    )
    completed = CompanyStepProgress.objects.filter(
        company=company, status=StepStatus.COMPLETED
    ).values("step_id")
    return JourneyStep.objects.exclude(pk__in=completed).exclude(pk__in=covered).exists()


def _current_recommendations(company_id, context_hash, prompt_id, shape):
    started = Q(status=Status.ACTIVE, started_at__isnull=False)
    current = Q(context_hash=context_hash, prompt_id=prompt_id, status__in=LIVE)
    return (
        Recommendation.objects.filter(started | current, company_id=company_id)
        .select_related("step__domain")
        .order_by(F("started_at").desc(nulls_last=True), "-generated_at", "-id")[:shape]
    )


_CURRENT_RECOMMENDATIONS = PreparedQuery(
    _current_recommendations, company_id=int, context_hash=str, prompt_id=int
)


def current_recommendations(
    *, company: Company, context_hash: str, prompt_id: int, limit: int
) -> list[Recommendation]:
    """What the company works on, then what is current, in one query: the started
    recommendations (active with a start time, whatever their context or prompt
    version: they stay until completed or expired), then the live recommendations of
    the current context and prompt version, newest first."""
    return _CURRENT_RECOMMENDATIONS(
        company_id=company.pk,
        context_hash=context_hash,
        prompt_id=prompt_id,
        shape=limit,
        preloaded=preloaded_for(company),
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
        .select_related("step__domain", "effectiveness")[:limit]
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
        .select_related("step__domain", "effectiveness")
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


def next_steps(
    *, company: Company, journey: list[JourneyDomain] | None = None
) -> list[JourneyStep]:
    """Steps the company has not completed: those in progress first, then journey order.
    From `journey` (journey_for's domains, read already) it costs no query."""
    if journey is not None:
        steps = [s for d in journey for s in d.journey_steps]
        steps.sort(key=lambda s: (s.domain.order, s.order, s.id))  # JourneyStep's ordering
        status = {s.id: s.company_progress.status for s in steps if s.company_progress}
        steps = [s for s in steps if status.get(s.id) != StepStatus.COMPLETED]
        steps.sort(key=lambda s: status.get(s.id) != StepStatus.IN_PROGRESS)  # stable
        return steps
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


_CURRENT_HEALTH = PreparedQuery(
    lambda company_id, context_hash, prompt_id: HealthSummary.objects.filter(
        company_id=company_id, context_hash=context_hash, prompt_id=prompt_id, status__in=LIVE
    )[:1],
    company_id=int,
    context_hash=str,
    prompt_id=int,
)


def _current_insights(company_id, context_hash, target_id, shape, *, by_step: bool):
    target = (
        {"step": JourneyStep(pk=target_id)} if by_step else {"domain": JourneyDomain(pk=target_id)}
    )
    queryset = insights_queryset(
        company=Company(pk=company_id), context_hash=context_hash, **target
    )
    return page_of(queryset, shape)


_INSIGHTS_OF_DOMAIN = PreparedQuery(
    lambda **kw: _current_insights(**kw, by_step=False),
    company_id=int,
    context_hash=str,
    target_id=int,
)
_INSIGHTS_OF_STEP = PreparedQuery(
    lambda **kw: _current_insights(**kw, by_step=True),
    company_id=int,
    context_hash=str,
    target_id=int,
)


def current_insights(
    *, company: Company, context_hash: str, domain: JourneyDomain, step: JourneyStep | None
) -> PreparedRows:
    """The live insights of the context for a domain (its domain- and step-level ones)
    or a step, most relevant first, to slice or paginate: each page one statement."""
    query = _INSIGHTS_OF_STEP if step is not None else _INSIGHTS_OF_DOMAIN
    return PreparedRows(
        query,
        lambda: insights_queryset(
            company=company, context_hash=context_hash, domain=domain, step=step
        ),
        company_id=company.pk,
        context_hash=context_hash,
        target_id=(step or domain).pk,
        preloaded=preloaded_for(company),
    )


def current_health_summary(
    *, company: Company, context_hash: str, prompt_id: int
) -> HealthSummary | None:
    rows = _CURRENT_HEALTH(
        company_id=company.pk,
        context_hash=context_hash,
        prompt_id=prompt_id,
        preloaded=preloaded_for(company),
    )
    return rows[0] if rows else None


def latest_health_summary(*, company: Company) -> HealthSummary | None:
    return HealthSummary.objects.filter(company=company).order_by("-generated_at", "-id").first()


def _content_tail(query: PreparedQuery, kind: str | None = None, *, company: str) -> Tail:
    """A read of content fed by its head's company and read lookups."""
    bind = {"company_id": company, "context_hash": "current_context_hash"}
    if kind is not None:
        bind["prompt_id"] = f"active_prompt_{kind}"
    return Tail(query, **bind)


def _with_membership(tail: PreparedQuery, kind: str | None = None) -> JoinedQuery:
    return JoinedQuery(READ_MEMBERSHIP, _content_tail(tail, kind, company="company_id"))


# A token read's authentication, membership, read lookups and content: one statement.
READ_MEMBERSHIP_WITH_HEALTH = _with_membership(_CURRENT_HEALTH, "health_summary")
READ_MEMBERSHIP_WITH_RECOMMENDATIONS = _with_membership(_CURRENT_RECOMMENDATIONS, "recommendation")
READ_MEMBERSHIP_WITH_DOMAIN_INSIGHTS = _with_membership(_INSIGHTS_OF_DOMAIN)
READ_MEMBERSHIP_WITH_STEP_INSIGHTS = _with_membership(_INSIGHTS_OF_STEP)


def _journey_domains(company_id: int) -> QuerySet[JourneyDomain]:
    maturity = CompanyDomainProgress.objects.filter(company_id=company_id, domain=OuterRef("pk"))
    return JourneyDomain.objects.annotate(
        company_maturity=Coalesce(Subquery(maturity.values("maturity_level")[:1]), 0)
    )


def _journey_steps(company_id: int) -> QuerySet[JourneyStep]:
    progress = CompanyStepProgress.objects.filter(company_id=company_id, step=OuterRef("pk"))
    return JourneyStep.objects.annotate(
        **{
            f"progress_{name}": Subquery(progress.values(name)[:1])
            for name in ("id", "status", "started_at", "completed_at", "last_activity_at")
        }
    ).order_by("domain_id", "order", "id")


_JOURNEY_DOMAINS = PreparedQuery(_journey_domains, company_id=int)
_JOURNEY_STEPS = PreparedQuery(_journey_steps, company_id=int)

READ_MEMBERSHIP_WITH_JOURNEY = JoinedQuery(
    READ_MEMBERSHIP,
    Tail(_JOURNEY_DOMAINS, company_id="company_id"),
    Tail(_JOURNEY_STEPS, company_id="company_id"),
)
# The navigation's companies (companies.templatetags.company_nav) and the company's
# content being written (generation.live), for the dashboard's statement.
_NAV_COMPANIES = PreparedQuery(
    lambda reader_id: (
        Company.objects.filter(memberships__user_id=reader_id).order_by("name").only("pk", "name")
    ),
    reader_id=int,
)
_LIVE_GENERATIONS = PreparedQuery(
    lambda company_id: in_progress_for(company_id=company_id, kinds=CONTENT_KINDS),
    company_id=int,
)

# The dashboard's company with its journey, current recommendations, health, content
# being written and the navigation's companies (company_page_read): its insights'
# target depends on the journey.
COMPANY_PAGE_READ = JoinedQuery(
    _COMPANY_FOR_READ,
    Tail(_JOURNEY_DOMAINS, company_id="id"),
    Tail(_JOURNEY_STEPS, company_id="id"),
    _content_tail(_CURRENT_RECOMMENDATIONS, "recommendation", company="id"),
    _content_tail(_CURRENT_HEALTH, "health_summary", company="id"),
    Tail(_LIVE_GENERATIONS, company_id="id"),
    Tail(_NAV_COMPANIES),
)


def company_page_read(*, user: AbstractBaseUser, limit: int) -> tuple[JoinedQuery, dict[str, Any]]:
    """COMPANY_PAGE_READ and its values for company_for_read's `read_with`: the shapes
    follow its tails (the recommendations' limit is the third)."""
    return COMPANY_PAGE_READ, {"shapes": ((), (), limit, (), (), ()), "reader_id": user.pk}


def nav_companies_for(*, company: Company, user: AbstractBaseUser) -> list[Company]:
    """The user's companies by name (only pk and name), as the navigation shows them;
    read with the company when the page's statement was COMPANY_PAGE_READ."""
    return _NAV_COMPANIES(reader_id=user.pk, preloaded=preloaded_for(company))


def live_generations_for(*, company: Company) -> list[Generation]:
    """The company's recommendations, insights and health summary being written
    (generation.live.in_progress_for), oldest first."""
    return _LIVE_GENERATIONS(company_id=company.pk, preloaded=preloaded_for(company))


def journey_for(*, company: Company) -> list[JourneyDomain]:
    """Domains in journey order, each with `.journey_steps` (its steps in order, each
    carrying `.company_progress`, a CompanyStepProgress or None), `.company_maturity`
    (0 when unknown), `.completed_count` and `.step_count`. Two queries."""
    preloaded = preloaded_for(company)
    domains = _JOURNEY_DOMAINS(company_id=company.pk, preloaded=preloaded)
    by_domain: dict[int, list[JourneyStep]] = {domain.pk: [] for domain in domains}
    for step in _JOURNEY_STEPS(company_id=company.pk, preloaded=preloaded):
        step.company_progress = None
        if step.progress_id is not None:
            step.company_progress = CompanyStepProgress(
                id=step.progress_id,
                company=company,
                step=step,
                status=step.progress_status,
                started_at=step.progress_started_at,
                completed_at=step.progress_completed_at,
                last_activity_at=step.progress_last_activity_at,
            )
        by_domain[step.domain_id].append(step)
    for domain in domains:
        steps = domain.journey_steps = by_domain[domain.pk]
        for step in steps:
            step.domain = domain
        domain.completed_count = sum(
            1
            for s in steps
            if s.company_progress and s.company_progress.status == StepStatus.COMPLETED
        )
        domain.step_count = len(steps)
    return domains


def effectiveness_queryset(*, company: Company) -> QuerySet[RecommendationEffectiveness]:
    """Newest first, on the (company, created_at, id) index; paginated by the API."""
    return (
        RecommendationEffectiveness.objects.filter(company=company)
        .select_related("recommendation__step__domain")
        .order_by("-created_at", "-id")
    )
