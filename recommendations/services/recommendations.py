"""Reading recommendations, generating one per step that has none."""

from typing import Any

from django.conf import settings

from companies.models import Company
from core.errors import DomainError
from generation.errors import GenerationPending
from generation.flight import Source, get_or_generate
from generation.hashing import sha256_of
from generation.models import Generation
from generation.throttles import charge_generation
from recommendations import selectors
from recommendations.models import ContextSnapshot, JourneyStep, Recommendation
from recommendations.services.content import (
    GENERATION_FAILURES,
    KIND_RECOMMENDATION,
    store_recommendation,
)
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


def recommendations_for(
    *,
    company: Company,
    limit: int | None = None,
    present_rows: bool = True,
    lookups: ReadLookups | None = None,
    wait: bool = True,
    count_hit: bool = True,
) -> ContentPage:
    """Up to `limit` recommendations: the ones the company has started (until they are
    completed or expire), then the live ones of the current context and prompt version,
    generating one per missing step. Short of the limit, live ones of other contexts
    fill the page; when generation failed, the most recent earlier recommendations
    (current context first, whatever their status) are served marked as fallback. The
    read raises (503, or 429 for a spent budget) only when there is nothing to serve.

    `wait=False` (the pages, API clients that prefer not to wait) makes no model call
    in this request: what is missing is claimed and produced in the background, listed
    in the page's `pending`, and the steps' earlier recommendations stand in for it."""
    limit = limit or settings.RECOMMENDATIONS_DEFAULT_LIMIT
    lookups = lookups or fresh_lookups(company=company)
    context_hash = lookups.current_hash()
    # Content of another prompt version is not current: a new version means new content.
    prompt_id = lookups.prompt_id(KIND_RECOMMENDATION)
    rows = selectors.current_recommendations(
        company=company, context_hash=context_hash, prompt_id=prompt_id, limit=limit
    )
    failure = None
    pending: list[Generation] = []
    generated = False
    # Short of the limit: generate only when some step is not covered yet (one query);
    # a read whose rows already cover every step never enters the generation path.
    if len(rows) < limit and selectors.has_uncovered_steps(
        company=company, context_hash=context_hash, prompt_id=prompt_id
    ):
        generated = True
        made, failure, pending = _generate(
            lookups=lookups, prompt_id=prompt_id, missing=limit - len(rows), wait=wait
        )
        if made:
            rows = selectors.current_recommendations(
                company=company, context_hash=context_hash, prompt_id=prompt_id, limit=limit
            )
    if len(rows) < limit:
        rows += selectors.fallback_recommendations(
            company=company, exclude=[r.pk for r in rows], limit=limit - len(rows)
        )
    earlier: list[Recommendation] = []
    if len(rows) < limit and (failure is not None or pending):
        earlier = selectors.earlier_recommendations(
            company=company,
            context_hash=context_hash,
            exclude=[r.pk for r in rows],
            exclude_steps=[r.step_id for r in rows],
            limit=limit - len(rows),
        )
        rows += earlier
    if not rows and failure is not None:
        raise failure
    if failure is not None and rows:
        count_fallback(KIND_RECOMMENDATION, company, failure)
    page = ContentPage(
        items=rows,
        context_hash=context_hash,
        error=failure.message if failure else "",
        failure=failure,
        fallback={r.pk for r in earlier},
        pending=pending,
    )
    hit = count_hit and not generated
    return serve(KIND_RECOMMENDATION, company, page, present_rows=present_rows, hit=hit)


def _recommendation_inputs(snapshot: ContextSnapshot, step: JourneyStep) -> dict[str, Any]:
    """The real inputs only: a rolled-back prompt version finds its earlier key again."""
    return {
        "context": snapshot.context_data,
        "step": {
            "key": step.key,
            "name": step.name,
            "domain": step.domain.name,
            "description": step.description,
        },
    }


def _generate(
    *, lookups: ReadLookups, prompt_id: int, missing: int, wait: bool
) -> tuple[int, DomainError | None, list[Generation]]:
    company = lookups.company
    snapshot = lookups.current_snapshot()
    taken = set(
        Recommendation.objects.filter(
            selectors.covering(context_hash=snapshot.context_hash, prompt_id=prompt_id),
            company=company,
        ).values_list("step_id", flat=True)
    )
    journey = lookups.journey
    steps = [s.step for s in selectors.next_steps(journey=journey) if s.step.pk not in taken]
    steps = steps[:missing]
    if steps:
        charge_generation()  # this request may call the model: throttled as such
    made = 0
    pending: list[Generation] = []
    for step in steps:

        def on_result(generation: Generation, step: JourneyStep = step) -> None:
            store_recommendation(
                generation, company=company, step=step, context_hash=snapshot.context_hash
            )

        try:
            result = get_or_generate(
                kind=KIND_RECOMMENDATION,
                scope=f"company:{company.pk}:step:{step.pk}",
                prompt_key=KIND_RECOMMENDATION,
                inputs=_recommendation_inputs(snapshot, step),
                company_id=company.pk,
                stream=True,
                wait=wait,
                on_result=on_result,
            )
        except GenerationPending as exc:
            pending.append(exc.generation)  # being written, here or elsewhere
            continue
        except GENERATION_FAILURES as exc:
            # Do not ask a failing provider again for the next slot in this request.
            return made, exc, pending
        if not is_stored(result):
            return made, failure_of(result), pending
        if result.source != Source.GENERATED:
            store_in_transaction(on_result, result.generation)  # its row may not exist
        made += 1
    return made, None, pending


def write_from_generation(generation: Generation) -> None:
    """The rows of a recommendation produced in the background (its scope names the
    company and the step; its inputs the context)."""
    company_id, step_id = scope_ids(generation.scope, "company", "step")
    step = JourneyStep.objects.select_related("domain").get(pk=step_id)
    store_recommendation(
        generation,
        company=Company.objects.get(pk=company_id),
        step=step,
        context_hash=sha256_of(generation.inputs["context"]),
    )
