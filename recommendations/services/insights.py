"""Reading peer insights of a domain or step, generating them when missing."""

from collections.abc import Callable, Sequence

from django.db import models

from companies.models import Company
from core.errors import DomainError
from generation.errors import GenerationPending
from generation.flight import Source, get_or_generate
from generation.hashing import sha256_of
from generation.models import Generation
from generation.throttles import charge_generation
from recommendations import selectors
from recommendations.lifecycle import LIVE
from recommendations.models import Insight, JourneyDomain, JourneyStep
from recommendations.services.content import GENERATION_FAILURES, KIND_INSIGHT, store_insights
from recommendations.services.context import ReadLookups, fresh_lookups
from recommendations.services.serving import (
    ContentPage,
    count_fallback,
    failure_of,
    is_stored,
    scope_ids,
    serve,
    store_in_transaction,
)


def resolve_insight_target(
    *,
    domain: JourneyDomain | None,
    step: JourneyStep | None,
    journey: list[selectors.DomainProgress],
) -> tuple[JourneyDomain | None, JourneyStep | None]:
    """A step implies its domain; with neither, the domain of the company's next step
    (or the journey's first domain when every step is done)."""
    if step is not None:
        return step.domain, step
    if domain is not None:
        return domain, None
    upcoming = selectors.next_steps(journey=journey)
    if upcoming:
        return upcoming[0].step.domain, None
    return (journey[0].domain if journey else None), None


def _covers_target(
    *, lookups: ReadLookups, rows: Sequence[Insight], domain: JourneyDomain, step
) -> bool:
    """Whether rows already read show a live insight of the target for the current
    context and prompt version: then there is nothing to make (no query)."""
    context_hash, prompt_id = lookups.current_hash(), lookups.prompt_ids.get(KIND_INSIGHT)
    for row in rows:
        on_target = (
            row.step_id == step.pk
            if step is not None
            else (row.step_id is None and row.domain_id == domain.pk)
        )
        if (
            on_target
            and row.status in LIVE
            and row.context_hash == context_hash
            and row.prompt_id == prompt_id
        ):
            return True
    return False


def insights_for(
    *,
    company: Company,
    domain: JourneyDomain,
    step: JourneyStep | None,
    take: Callable[[models.QuerySet], list],
    lookups: ReadLookups | None = None,
    wait: bool = True,
    count_hit: bool = True,
) -> ContentPage:
    """The insights of a domain (or step) for the current context, made if missing;
    when they cannot be made, the target's earlier ones marked as fallback. `take`
    turns the queryset into the page's rows (the API paginates, the dashboard slices):
    the API and the dashboard read through this one function. `wait=False`: nothing
    is made in this request; what is missing is written in the background (`pending`)
    and the target's earlier insights stand in for it."""
    lookups = lookups or fresh_lookups(company=company)
    context_hash = lookups.current_hash()
    target = {"company": company, "domain": domain, "step": step}
    rows = take(selectors.insights_queryset(context_hash=context_hash, **target))
    # The page shows the target's current insights: nothing to make, no query more.
    if _covers_target(lookups=lookups, rows=rows, domain=domain, step=step):
        page = ContentPage(items=rows, context_hash=context_hash)
        return serve(KIND_INSIGHT, company, page, present_rows=True, hit=count_hit)
    pending: list[Generation] = []
    try:
        context_hash, failure = ensure_insights(
            lookups=lookups, domain=domain, step=step, wait=wait
        )
    except GenerationPending as exc:
        failure = None
        pending.append(exc.generation)
    queryset = selectors.insights_queryset(context_hash=context_hash, **target)
    fallback: set[int] = set()
    if pending and not queryset.exists():
        # Being written: the target's earlier insights meanwhile, if it has any.
        rows = take(selectors.insights_queryset(live_only=False, **target))
        fallback = {r.pk for r in rows}
    elif failure is not None and not queryset.exists():
        # The provider failed: serve the target's earlier insights, marked as such.
        queryset = selectors.insights_queryset(live_only=False, **target)
        if not queryset.exists():
            raise failure
        rows = take(queryset)
        fallback = {r.pk for r in rows}
        count_fallback(KIND_INSIGHT, company, failure)
    else:
        rows = take(queryset)
    page = ContentPage(
        items=rows,
        context_hash=context_hash,
        error=failure.message if failure else "",
        failure=failure,
        fallback=fallback,
        pending=pending,
    )
    return serve(KIND_INSIGHT, company, page, present_rows=True, hit=False)


def ensure_insights(
    *, lookups: ReadLookups, domain: JourneyDomain, step: JourneyStep | None, wait: bool = True
) -> tuple[str, DomainError | None]:
    """Make the insights of a domain (or a step) for the current context if there are
    none; returns (context_hash, failure). Raises GenerationPending when they are
    being written and the caller does not wait."""
    company = lookups.company
    context_hash = lookups.current_hash()
    prompt_id = lookups.prompt_id(KIND_INSIGHT)
    target = {"step": step} if step is not None else {"domain": domain, "step__isnull": True}
    in_context = Insight.objects.filter(company=company, context_hash=context_hash, **target)
    if in_context.filter(status__in=LIVE, prompt_id=prompt_id).exists():
        return context_hash, None
    charge_generation()
    snapshot = lookups.current_snapshot()
    inputs = {
        "context": snapshot.context_data,
        "target": {"domain": domain.name, "step": step.name if step else ""},
    }
    scope = f"company:{company.pk}:domain:{domain.pk}" + (f":step:{step.pk}" if step else "")

    def on_result(generation: Generation) -> None:
        store_insights(
            generation,
            company=company,
            domain=domain,
            step=step,
            context_hash=snapshot.context_hash,
        )

    try:
        result = get_or_generate(
            kind=KIND_INSIGHT,
            scope=scope,
            prompt_key=KIND_INSIGHT,
            inputs=inputs,
            company_id=company.pk,
            stream=True,
            wait=wait,
            on_result=on_result,
        )
    except GENERATION_FAILURES as exc:
        return snapshot.context_hash, exc
    if not is_stored(result):
        return snapshot.context_hash, failure_of(result)
    if result.source != Source.GENERATED:
        store_in_transaction(on_result, result.generation)
    return snapshot.context_hash, None


def write_from_generation(generation: Generation) -> None:
    """The rows of insights produced in the background (the scope names the company,
    the domain and maybe a step)."""
    company_id, domain_id, step_id = scope_ids(generation.scope, "company", "domain", "step")
    store_insights(
        generation,
        company=Company.objects.get(pk=company_id),
        domain=JourneyDomain.objects.get(pk=domain_id),
        step=JourneyStep.objects.get(pk=step_id) if step_id is not None else None,
        context_hash=sha256_of(generation.inputs["context"]),
    )
