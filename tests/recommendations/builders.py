"""Builders for the journey and its content."""

import itertools
from datetime import timedelta

from django.utils import timezone

from generation.models import Prompt
from generation.schema_forms import initial_from
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import (
    HealthSummary,
    Insight,
    JourneyDomain,
    JourneyStep,
    Recommendation,
)

_seq = itertools.count(1)


def make_journey(*, domains: int = 2, steps: int = 5) -> list[JourneyStep]:
    """`domains` x `steps` steps in journey order."""
    made = []
    for d in range(domains):
        n = next(_seq)
        domain = JourneyDomain.objects.create(slug=f"domain-{n}", name=f"Domain {n}", order=d)
        for s in range(steps):
            made.append(
                JourneyStep.objects.create(
                    domain=domain,
                    slug=f"step-{s + 1}",
                    name=f"Step {s + 1} of domain {n}",
                    order=s,
                    description="Do the thing.",
                )
            )
    services.journey_changed()  # as the admin does: every company's reads show it
    return made


def _provenance(kind: str, **fields) -> dict:
    """Made by the active prompt of the kind (as generated content is), unless told."""
    now = timezone.now()
    if "prompt" not in fields:
        fields["prompt"] = Prompt.objects.filter(key=kind, is_active=True).first()
    if fields["prompt"] is not None:
        fields.setdefault("prompt_version", fields["prompt"].version)
    return {
        "model": "offline",
        "provider": "offline",
        "generated_at": now,
        "expires_at": now + timedelta(days=14),
        **fields,
    }


def make_recommendation(*, company, context_hash: str, step=None, **fields) -> Recommendation:
    fields.setdefault("status", Status.FRESH)
    fields.setdefault("content", {"title": f"Recommendation {next(_seq)}", "summary": "Do it."})
    return Recommendation.objects.create(
        company=company,
        step=step,
        context_hash=context_hash,
        **_provenance("recommendation", **fields),
    )


def make_insight(*, company, context_hash: str, domain=None, step=None, **fields) -> Insight:
    fields.setdefault("relevance_score", 0.75)
    return Insight.objects.create(
        company=company,
        domain=domain,
        step=step,
        context_hash=context_hash,
        content=f"Insight {next(_seq)}",
        author_profile={"name": "Pat", "role": "Founder", "company": "Peer Co"},
        **_provenance("insight", **fields),
    )


def make_health(*, company, context_hash: str, **fields) -> HealthSummary:
    return HealthSummary.objects.create(
        company=company,
        context_hash=context_hash,
        content={"score": 70, "headline": "Fine", "summary": "Fine."},
        **_provenance("health_summary", **fields),
    )


def make_ranked_insights(*, company, domain, count: int = 5) -> list[Insight]:
    """`count` active domain insights of the current context, relevance 0.5, 0.6, ..."""
    context = services.current_snapshot(company=company).context_hash
    return [
        make_insight(
            company=company,
            context_hash=context,
            domain=domain,
            relevance_score=0.5 + n / 10,
            status="active",
        )
        for n in range(count)
    ]


def content_form_data(schema, data: dict) -> dict:
    """The POST of the admin's content form showing `data` (its schema's fields)."""
    return initial_from(schema, data)
