"""The three kinds of content and how a generated artefact becomes their rows.

The rows are written in the on_result of generation.flight.get_or_generate, inside
its write-through transaction: artefact, log and rows commit together.
"""

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from companies.models import Company
from generation.errors import BudgetExceeded, ProviderUnavailable
from generation.flight import register_refresher
from generation.models import Generation
from recommendations.lifecycle import LIVE, Status
from recommendations.models import (
    GeneratedContent,
    HealthSummary,
    Insight,
    JourneyDomain,
    JourneyStep,
    Recommendation,
)

logger = logging.getLogger(__name__)

KIND_RECOMMENDATION = "recommendation"
KIND_INSIGHT = "insight"
KIND_HEALTH = "health_summary"
# Prompt keys are the kinds.
CONTENT_MODELS: dict[str, type[GeneratedContent]] = {
    KIND_RECOMMENDATION: Recommendation,
    KIND_INSIGHT: Insight,
    KIND_HEALTH: HealthSummary,
}
# Failures that leave a slot empty instead of failing the whole read.
GENERATION_FAILURES = (ProviderUnavailable, BudgetExceeded)


def _provenance(generation: Generation, kind: str) -> dict[str, Any]:
    generated_at = generation.completed_at or timezone.now()
    return {
        "generation": generation,
        "prompt_id": generation.prompt_id,
        "prompt_version": generation.prompt.version if generation.prompt_id else None,
        "model": generation.model,
        "provider": generation.provider,
        "generated_at": generated_at,
        "expires_at": generated_at + settings.EVERGREEN_EXPIRY[kind],
    }


def _replace_older_prompt(existing: models.QuerySet, generation: Generation) -> None:
    """Live rows of the same slot made with another prompt version are replaced now."""
    existing.filter(status__in=LIVE).exclude(prompt_id=generation.prompt_id).update(
        status=Status.STALE, stale_at=timezone.now()
    )


def _create_once(content_model: type[models.Model], existing: models.QuerySet, /, **fields) -> None:
    """Create a domain row unless a live one exists; a concurrent twin is not an error."""
    if existing.exists():
        return
    try:
        with transaction.atomic():
            content_model.objects.create(**fields)
    except IntegrityError:
        logger.info("%s row already written by a concurrent reader", content_model.__name__)


def store_recommendation(
    generation: Generation, *, company: Company, step: JourneyStep, context_hash: str
) -> None:
    slot = Recommendation.objects.filter(company=company, step=step, context_hash=context_hash)
    _replace_older_prompt(slot, generation)
    _create_once(
        Recommendation,
        slot.exclude(status=Status.STALE),
        company=company,
        step=step,
        context_hash=context_hash,
        content=generation.result,
        **_provenance(generation, KIND_RECOMMENDATION),
    )


def store_insights(
    generation: Generation,
    *,
    company: Company,
    domain: JourneyDomain,
    step: JourneyStep | None,
    context_hash: str,
) -> None:
    target = {"step": step} if step is not None else {"domain": domain, "step__isnull": True}
    slot = Insight.objects.filter(company=company, context_hash=context_hash, **target)
    _replace_older_prompt(slot, generation)
    if slot.filter(generation=generation, status__in=LIVE).exists():
        return
    provenance = _provenance(generation, KIND_INSIGHT)
    Insight.objects.bulk_create(
        Insight(
            company=company,
            domain=domain,
            step=step,
            context_hash=context_hash,
            content=item["content"],
            author_profile=item["author_profile"],
            relevance_score=min(1.0, max(0.5, float(item["relevance_score"]))),
            **provenance,
        )
        for item in (generation.result or {}).get("insights", [])
    )


def store_health(generation: Generation, *, company: Company, context_hash: str) -> None:
    slot = HealthSummary.objects.filter(company=company, context_hash=context_hash)
    _replace_older_prompt(slot, generation)
    _create_once(
        HealthSummary,
        slot.exclude(status=Status.STALE),
        company=company,
        context_hash=context_hash,
        content=generation.result,
        **_provenance(generation, KIND_HEALTH),
    )


def refresh_rows(generation: Generation) -> None:
    """Replace the live rows made from this artefact by rows of its new content. Runs in
    the write-through transaction of generation.flight.revalidate."""
    model = CONTENT_MODELS[generation.kind]
    old = list(model.objects.select_for_update().filter(generation=generation, status__in=LIVE))
    if not old:
        return
    model.objects.filter(pk__in=[r.pk for r in old]).update(
        status=Status.STALE, stale_at=timezone.now()
    )
    first = old[0]
    if model is Insight:
        store_insights(
            generation,
            company=first.company,
            domain=first.domain,
            step=first.step,
            context_hash=first.context_hash,
        )
    elif model is Recommendation:
        for row in old:
            store_recommendation(
                generation, company=row.company, step=row.step, context_hash=row.context_hash
            )
    else:
        store_health(generation, company=first.company, context_hash=first.context_hash)


for _kind in CONTENT_MODELS:
    register_refresher(_kind, refresh_rows)
