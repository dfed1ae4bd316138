"""Every list endpoint costs the same number of queries at 10 and at 200 rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generation.hits import record_hit
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import JourneyStep, Recommendation, RecommendationEffectiveness
from tests.recommendations.builders import (
    make_insight,
    make_journey,
    make_recommendation,
)


def count_queries(api, url) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response


@pytest.fixture(autouse=True)
def _hit_counter_rows(company):
    """The day's first cache hit creates its counter row: make those rows beforehand so
    both measurements are of the same steady state."""
    for kind in ("recommendation", "insight", "health_summary"):
        record_hit(kind=kind, company_id=company.pk)


def current_hash(company) -> str:
    return services.current_snapshot(company=company).context_hash


def make_steps(n: int) -> list[JourneyStep]:
    return make_journey(domains=max(1, n // 5), steps=min(n, 5))


@pytest.mark.parametrize("status", [Status.FRESH, Status.ACTIVE])
def test_recommendations_list_is_constant_in_queries(api, company, provider, status):
    counts = []
    for n in (10, 200):
        steps = make_steps(n)
        context = current_hash(company)
        for step in steps:
            make_recommendation(company=company, context_hash=context, step=step, status=status)
        queries, response = count_queries(
            api, reverse("company-recommendations", args=[company.pk]) + f"?limit={n}"
        )
        assert len(response.json()) == n
        counts.append(queries)
        company.step_progress.all().delete()
        Recommendation.objects.all().delete()
    assert counts[0] == counts[1]
    assert provider.calls == 0


def test_recommendations_with_fallback_rows_are_constant_in_queries(api, company, provider):
    counts = []
    for n in (10, 200):
        steps = make_steps(n)
        current_hash(company)  # the company's first snapshot is made before measuring
        # Every step is covered by a started recommendation of an older context.
        for step in steps:
            make_recommendation(
                company=company,
                context_hash="0" * 64,
                step=step,
                status=Status.ACTIVE,
                started_at=timezone.now(),
            )
        queries, response = count_queries(
            api, reverse("company-recommendations", args=[company.pk]) + f"?limit={n}"
        )
        assert len(response.json()) == n and all(r["is_fallback"] for r in response.json())
        counts.append(queries)
        Recommendation.objects.all().delete()
        JourneyStep.objects.all().delete()
    assert counts[0] == counts[1]
    assert provider.calls == 0


def test_insights_list_is_constant_in_queries(api, company, provider):
    counts = []
    for n in (10, 200):
        steps = make_journey(domains=1, steps=1)
        domain = steps[0].domain
        for _ in range(n):
            make_insight(company=company, context_hash=current_hash(company), domain=domain)
        queries, response = count_queries(
            api,
            reverse("company-insights", args=[company.pk]) + f"?domain={domain.pk}&page_size=200",
        )
        assert len(response.json()["results"]) == n
        counts.append(queries)
    assert counts[0] == counts[1]
    assert provider.calls == 0


def test_journey_is_constant_in_queries(api, company):
    counts = []
    for n in (10, 200):
        steps = make_steps(n)
        for step in steps[::2]:
            services.update_step_progress(company=company, step=step, status="completed")
        queries, response = count_queries(api, reverse("company-journey", args=[company.pk]))
        assert sum(len(d["steps"]) for d in response.json()) >= n
        counts.append(queries)
    assert counts[0] == counts[1]


def test_effectiveness_list_is_constant_in_queries(api, company):
    counts = []
    for n in (10, 200):
        steps = make_steps(n)
        for step in steps:
            rec = make_recommendation(company=company, context_hash="0" * 64, step=step)
            RecommendationEffectiveness.objects.create(
                recommendation=rec, company=company, was_started=True
            )
        queries, response = count_queries(
            api, reverse("company-effectiveness", args=[company.pk]) + "?page_size=200"
        )
        assert len(response.json()["results"]) == min(
            200, RecommendationEffectiveness.objects.count()
        )
        counts.append(queries)
    assert counts[0] == counts[1]
