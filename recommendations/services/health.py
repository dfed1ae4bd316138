"""Reading the company's health summary, generating it when missing."""

from companies.models import Company
from core.errors import DomainError
from generation.errors import GenerationPending, ProviderUnavailable
from generation.flight import Source, get_or_generate
from generation.hashing import sha256_of
from generation.models import Generation
from generation.throttles import charge_generation
from recommendations import selectors
from recommendations.models import ContextSnapshot
from recommendations.services.content import GENERATION_FAILURES, KIND_HEALTH, store_health
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


def health_summary_for(
    *,
    company: Company,
    present_row: bool = True,
    lookups: ReadLookups | None = None,
    wait: bool = True,
    count_hit: bool = True,
) -> ContentPage:
    """The health summary of the current context, generated if missing; when that fails,
    or while it is being written (`wait=False`: made in the background), the latest
    earlier one, marked as fallback."""
    lookups = lookups or fresh_lookups(company=company)
    context_hash = lookups.current_hash()
    prompt_id = lookups.prompt_id(KIND_HEALTH)
    current = {"company": company, "context_hash": context_hash, "prompt_id": prompt_id}
    row = selectors.current_health_summary(**current)
    failure = None
    pending: list[Generation] = []
    fallback: set[int] = set()
    hit = row is not None
    if row is None:
        charge_generation()
        try:
            failure = _generate(company=company, snapshot=lookups.current_snapshot(), wait=wait)
        except GenerationPending as exc:
            pending.append(exc.generation)
        row = selectors.current_health_summary(**current)
        if row is None:
            row = selectors.latest_health_summary(company=company)
            if row is not None:
                fallback.add(row.pk)
                count_fallback(KIND_HEALTH, company, failure)
    if row is None and pending:
        return ContentPage(context_hash=context_hash, pending=pending)
    if row is None:
        raise failure or ProviderUnavailable()
    page = ContentPage(
        items=[row],
        context_hash=context_hash,
        error=failure.message if failure else "",
        failure=failure,
        fallback=fallback,
        pending=pending,
    )
    return serve(KIND_HEALTH, company, page, present_rows=present_row, hit=hit and count_hit)


def _generate(*, company: Company, snapshot: ContextSnapshot, wait: bool) -> DomainError | None:
    """Make the summary; raises GenerationPending when it is being written and the
    caller does not wait."""

    def on_result(generation: Generation) -> None:
        store_health(generation, company=company, context_hash=snapshot.context_hash)

    try:
        result = get_or_generate(
            kind=KIND_HEALTH,
            scope=f"company:{company.pk}",
            prompt_key=KIND_HEALTH,
            inputs={"context": snapshot.context_data},
            company_id=company.pk,
            stream=True,
            wait=wait,
            on_result=on_result,
        )
    except GENERATION_FAILURES as exc:
        return exc
    if not is_stored(result):
        return failure_of(result)
    if result.source != Source.GENERATED:
        store_in_transaction(on_result, result.generation)
    return None


def write_from_generation(generation: Generation) -> None:
    """The row of a health summary produced in the background."""
    [company_id] = scope_ids(generation.scope, "company")
    store_health(
        generation,
        company=Company.objects.get(pk=company_id),
        context_hash=sha256_of(generation.inputs["context"]),
    )
