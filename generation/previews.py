"""Before a prompt version is activated: what the change supersedes, what regenerating
that would cost, and a dry run on a few sample contexts.

Activating a version makes every stored artefact of its key made with another version
out of date: each is regenerated when it is next read. Those artefacts are counted per
slot (kind and scope: one company's recommendation for a step, a deliverable's
display), and the cost of regenerating them is estimated from the ledger: the mean
cost per artefact of that kind so far (every call that made an artefact, its failed
attempts included, divided by the artefacts they made).

The dry run asks the provider with the new version on the stored inputs of up to
SAMPLES of those artefacts and returns the old and new outputs side by side. It stores
no content and no Generation row: serving never sees it. Its calls are real, so each
has its ledger row (budgets and usage count what was spent), marked by its origin
("prompt-preview:<prompt id>") and with no prompt or generation, so the draft version
does not count as used (it can still be edited) and the preview's calls never enter
the mean cost per artefact.
"""

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum

from generation import ledger
from generation.errors import ProviderError
from generation.models import Generation, GenerationLog, GenerationStatus, Outcome, Prompt
from generation.production import Job, call_logged
from generation.providers import get_provider

PREVIEW_ORIGIN = "prompt-preview:"
SAMPLES = 3
# Completed generations looked at to find SAMPLES distinct slots.
SAMPLE_SCAN = 50


@dataclass(frozen=True)
class ActivationImpact:
    """What activating `prompt` would change."""

    prompt: Prompt
    active: Prompt | None
    superseded: int
    kinds: list[str]
    # Per artefact, from the ledger; None when the ledger has no call for these kinds.
    mean_cost: Decimal | None
    estimate: Decimal | None


@dataclass(frozen=True)
class Output:
    content: Any
    cost: Decimal | None
    error: str = ""

    @property
    def shown(self) -> str:
        """The content as text for the page (escaped there: model output is untrusted)."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return json.dumps(self.content, indent=2, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Sample:
    generation: Generation
    old: Output
    new: Output


def preview_origin(prompt: Prompt) -> str:
    return f"{PREVIEW_ORIGIN}{prompt.pk}"


def superseded_generations(*, prompt: Prompt) -> QuerySet[Generation]:
    """Stored artefacts of the key made with another version, in slots that have no
    artefact of this version yet."""
    of_key = Generation.objects.filter(prompt__key=prompt.key, status=GenerationStatus.COMPLETED)
    made = of_key.filter(prompt=prompt).values("scope")
    return of_key.exclude(prompt=prompt).exclude(scope__in=made)


def mean_cost_per_artefact(*, kinds: list[str]) -> Decimal | None:
    """The ledger's cost of the calls that made artefacts of these kinds, per artefact."""
    sums = (
        GenerationLog.objects.filter(kind__in=kinds, generation__isnull=False)
        .exclude(origin__startswith=PREVIEW_ORIGIN)
        .aggregate(cost=Sum("cost"), artefacts=Count("generation", distinct=True))
    )
    if not sums["artefacts"]:
        return None
    return (sums["cost"] / sums["artefacts"]).quantize(Decimal("0.000001"))


def activation_impact(*, prompt: Prompt) -> ActivationImpact:
    active = Prompt.objects.filter(key=prompt.key, is_active=True).first()
    if active is not None and active.pk == prompt.pk:
        return ActivationImpact(prompt, active, 0, [], None, Decimal(0))
    # order_by(): the model's ordering would be selected too and spoil the DISTINCT.
    rows = superseded_generations(prompt=prompt).order_by()
    superseded = rows.values("kind", "scope").distinct().count()
    kinds = sorted(rows.values_list("kind", flat=True).distinct())
    mean = mean_cost_per_artefact(kinds=kinds) if kinds else None
    estimate = (mean * superseded) if mean is not None else (Decimal(0) if not superseded else None)
    return ActivationImpact(prompt, active, superseded, kinds, mean, estimate)


def sample_generations(*, prompt: Prompt, limit: int = SAMPLES) -> list[Generation]:
    """The latest superseded artefacts, one per slot."""
    picked: list[Generation] = []
    seen: set[tuple[str, str]] = set()
    rows = superseded_generations(prompt=prompt).order_by("-completed_at", "-pk")
    for generation in rows[:SAMPLE_SCAN]:
        slot = (generation.kind, generation.scope)
        if slot in seen:
            continue
        seen.add(slot)
        picked.append(generation)
        if len(picked) == limit:
            break
    return picked


def _stored_cost(generation: Generation) -> Decimal | None:
    row = (
        GenerationLog.objects.filter(generation=generation, outcome=Outcome.SUCCESS)
        .order_by("-created_at", "-pk")
        .first()
    )
    return row.cost if row is not None else None


def _ask(prompt: Prompt, generation: Generation, provider) -> Output:
    job = Job(
        kind=generation.kind,
        scope=generation.scope,
        key=generation.context_hash,
        prompt=prompt,
        inputs=generation.inputs,
        company_id=None,  # an admin's check, not the company's spending
        stream=False,
        ttl=None,
        on_result=None,
        origin=preview_origin(prompt),
    )
    try:
        entry, call = call_logged(job, None, provider)
    except ProviderError as exc:
        row = GenerationLog.objects.filter(origin=job.origin).order_by("-pk").first()
        return Output(None, row.cost if row else None, f"The call failed ({exc.outcome}).")
    ledger.close_entry(
        entry,
        outcome=Outcome.SUCCESS,
        attempts=call.attempts,
        latency_ms=call.latency_ms,
        result=call.result,
    )
    result = call.result
    content = result.parsed if result.parsed is not None else result.text
    return Output(content, GenerationLog.objects.get(pk=entry.pk).cost)


def dry_run(*, prompt: Prompt, limit: int = SAMPLES, provider=None) -> list[Sample]:
    """The old and new outputs of up to `limit` sample contexts, priced; nothing stored
    but the calls' ledger rows."""
    provider = provider or get_provider()
    return [
        Sample(
            generation,
            Output(generation.content, _stored_cost(generation)),
            _ask(prompt, generation, provider),
        )
        for generation in sample_generations(prompt=prompt, limit=limit)
    ]
