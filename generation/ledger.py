"""The ledger of provider calls: GenerationLog rows written ahead of the provider.

A call's row is committed `started` (kind, company, provider, model, the prompt's
estimated input tokens and what they would cost) before the first request, its
`attempts` before each request, and the same row is completed when the call ends:
tokens, cached tokens, cost, latency, outcome. A caller killed mid-call therefore
leaves a row saying that it asked and what that may have cost; the sweep
(generation.sweep) closes such a row as `unknown` once the claim's lease is over,
keeping the estimated cost. Usage leaves `started` rows out (no outcome yet) and
counts `unknown` ones; budgets count every row's cost, so calls in flight count too.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, IntegerField, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from generation.models import Generation, GenerationLog, Outcome
from generation.pricing import cost_for, estimate_tokens
from generation.providers import ProviderResult

MAX_ERROR = 2000
MAX_RAW_OUTPUT = 20000


@dataclass(frozen=True)
class Entry:
    """A row of the ledger that this caller opened and will complete."""

    pk: int
    model: str


def _new_row(*, kind, company_id, generation: Generation | None, provider, model, **fields):
    # A call made for no artefact (a prompt preview's dry run) has no generation, and
    # names no prompt: its output is never stored, so it does not make a version "used".
    return GenerationLog.objects.create(
        kind=kind,
        company_id=company_id,
        prompt_id=generation.prompt_id if generation is not None else None,
        generation=generation,
        provider=provider,
        model=model,
        **fields,
    )


def open_entry(
    *,
    kind: str,
    company_id: int | None,
    generation: Generation | None,
    provider: str,
    model: str,
    prompt_text: str,
    origin: str = "",
) -> Entry:
    """Commit the `started` row of a call about to be made (call outside a transaction:
    the row must survive whatever happens to the caller next)."""
    estimated = estimate_tokens(prompt_text)
    row = _new_row(
        kind=kind,
        company_id=company_id,
        generation=generation,
        provider=provider,
        model=model,
        tokens_in_estimated=estimated,
        cost=cost_for(model=model, tokens_in=estimated, tokens_out=0),
        attempts=0,
        outcome=Outcome.STARTED,
        origin=origin,
    )
    return Entry(pk=row.pk, model=model)


def count_attempt(entry: Entry, number: int) -> None:
    """Record request `number` of the call before it is sent."""
    GenerationLog.objects.filter(pk=entry.pk).update(attempts=number)


def close_entry(
    entry: Entry,
    *,
    outcome: str,
    attempts: int,
    latency_ms: int,
    result: ProviderResult | None = None,
    error: str = "",
    raw_output: str = "",
) -> None:
    """Complete the call's row with how it ended. A row the sweep closed as `unknown`
    meanwhile is completed all the same: the caller's account is the true one."""
    tokens_in = result.tokens_in if result else 0
    tokens_out = result.tokens_out if result else 0
    tokens_cached = result.tokens_cached if result else 0
    model = (result.model if result else "") or entry.model
    GenerationLog.objects.filter(pk=entry.pk).update(
        outcome=outcome,
        attempts=attempts,
        latency_ms=latency_ms,
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        tokens_cached=tokens_cached,
        cost=cost_for(
            model=model, tokens_in=tokens_in, tokens_out=tokens_out, tokens_cached=tokens_cached
        ),
        error=error[:MAX_ERROR],
        raw_output=raw_output[:MAX_RAW_OUTPUT] if outcome == Outcome.INVALID_OUTPUT else "",
    )


def note_error(entry: Entry, error: str) -> None:
    """Add what went wrong after the call (its result could not be stored)."""
    GenerationLog.objects.filter(pk=entry.pk).update(error=error[:MAX_ERROR])


def close_unknown(queryset, *, error: str) -> int:
    """Close the `started` rows of `queryset` as `unknown`: their requests were sent
    (attempts) and their estimated cost stands; the tokens were never reported."""
    return queryset.filter(outcome=Outcome.STARTED).update(
        outcome=Outcome.UNKNOWN, error=error[:MAX_ERROR]
    )


def abandon(entry: Entry, *, error: str) -> int:
    """Close this caller's own row as `unknown` (it cannot tell how its call ended)."""
    return close_unknown(GenerationLog.objects.filter(pk=entry.pk), error=error)


def close_abandoned(*, started_before: datetime, generation_ids=()) -> int:
    """Close the `started` rows opened before `started_before` (their caller's lease
    is over), and those of the given generations (their claim was closed)."""
    rows = GenerationLog.objects.filter(created_at__lt=started_before)
    closed = close_unknown(rows, error="no outcome: the caller stopped before the call ended")
    if generation_ids:
        closed += close_unknown(
            GenerationLog.objects.filter(generation_id__in=list(generation_ids)),
            error="no outcome: the claim's lease ran out before the call ended",
        )
    return closed


def record_refusal(
    *, kind: str, company_id: int | None, generation: Generation, provider: str, model: str
) -> None:
    """A call not made because the company's daily budget is spent: 0 requests."""
    _new_row(
        kind=kind,
        company_id=company_id,
        generation=generation,
        provider=provider,
        model=model,
        attempts=0,
        outcome=Outcome.BUDGET_EXCEEDED,
        error="daily budget spent",
    )


def calls_of(origin: str) -> Coalesce:
    """An expression: the provider requests recorded for `origin`, in any state (a
    started call's requests were sent; an unknown one's too)."""
    total = (
        GenerationLog.objects.filter(origin=origin)
        .values("origin")
        .annotate(n=Sum("attempts"))
        .values("n")
    )
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


@dataclass(frozen=True)
class Totals:
    """What a set of ledger rows adds up to."""

    calls: int
    requests: int
    tokens_in: int
    tokens_out: int
    cost: Decimal


def totals(rows: QuerySet[GenerationLog]) -> Totals:
    """One aggregate query over `rows` (e.g. the admin's filtered list)."""
    zero = Value(0)
    sums = rows.order_by().aggregate(
        calls=Count("pk"),
        requests=Coalesce(Sum("attempts"), zero),
        tokens_in=Coalesce(Sum("tokens_in"), zero),
        tokens_out=Coalesce(Sum("tokens_out"), zero),
        cost=Sum("cost"),
    )
    return Totals(**{**sums, "cost": sums["cost"] or Decimal(0)})
