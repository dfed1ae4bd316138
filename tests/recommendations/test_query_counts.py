"""Every list endpoint and the dashboard cost the same number of queries at 10 and at
200 rows: an API read at most 3, token authentication included, and the dashboard
at most 6, once a first read has filled the caches (a company's read lookups, the
content's representations). The first read's figure is printed beside it.

Each figure is printed (`pytest -s`).
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from deliverables.models import Workspace
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import (
    HealthSummary,
    JourneyStep,
    Recommendation,
    RecommendationEffectiveness,
)
from recommendations.services import recommendations as recommendations_service
from tests.builders import writes_in
from tests.deliverables.builders import give_current_displays, make_deliverables
from tests.recommendations.builders import (
    make_health,
    make_insight,
    make_journey,
    make_recommendation,
)

API_LIST_MAX = 3


@pytest.fixture
def token_api(member):
    """Authenticated as a real client is: the token is looked up by the request."""
    token, _ = Token.objects.get_or_create(user=member.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def count_queries(client, url) -> tuple[int, object, list[str]]:
    """The queries of a read after a first one (printed) filled the caches, the
    response, and the writes of both reads."""
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    writes = writes_in(first.captured_queries) + writes_in(ctx.captured_queries)
    print(f"\n{url}: first read {len(first.captured_queries)} queries")
    return len(ctx.captured_queries), response, writes


def check(name: str, counts: list[int], *, limit: int | None = API_LIST_MAX) -> None:
    print(f"\nqueries per request, {name}: 10 rows {counts[0]}, 200 rows {counts[1]}")
    assert counts[0] == counts[1], counts
    if limit is not None:
        assert counts[1] <= limit, counts


def current_hash(company) -> str:
    return services.current_snapshot(company=company).context_hash


def make_steps(n: int) -> list[JourneyStep]:
    return make_journey(domains=max(1, n // 5), steps=min(n, 5))


def recs_url(company, n: int) -> str:
    return reverse("company-recommendations", args=[company.pk]) + f"?limit={n}"


@pytest.mark.parametrize("status", [Status.FRESH, Status.ACTIVE])
def test_recommendations_list_is_constant_in_queries(token_api, company, provider, status):
    counts = []
    for n in (10, 200):
        steps = make_steps(n)
        context = current_hash(company)
        for step in steps:
            make_recommendation(company=company, context_hash=context, step=step, status=status)
        queries, response, writes = count_queries(token_api, recs_url(company, n))
        assert len(response.json()) == n
        # A read writes nothing but the once-in-a-lifetime fresh -> active edge.
        assert len(writes) == (1 if status == Status.FRESH else 0), writes
        counts.append(queries)
        company.step_progress.all().delete()
        Recommendation.objects.all().delete()
    check(f"recommendations ({status})", counts)
    assert provider.calls == 0


def test_recommendations_with_fallback_rows_are_constant_in_queries(token_api, company, provider):
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
        queries, response, writes = count_queries(token_api, recs_url(company, n))
        assert len(response.json()) == n and all(r["is_fallback"] for r in response.json())
        assert writes == []
        counts.append(queries)
        Recommendation.objects.all().delete()
        JourneyStep.objects.all().delete()
    check("recommendations (fallback rows)", counts)
    assert provider.calls == 0


def test_a_read_whose_rows_cover_every_step_never_enters_the_generation_path(
    token_api, company, provider, monkeypatch
):
    steps = make_steps(3)
    context = current_hash(company)
    for step in steps:
        make_recommendation(company=company, context_hash=context, step=step, status=Status.ACTIVE)

    def no_generation(**kwargs):
        raise AssertionError("entered the generation path")

    monkeypatch.setattr(recommendations_service, "_generate", no_generation)
    # Asks for more than there are steps: short of the limit, but nothing to make.
    response = token_api.get(recs_url(company, 10))

    assert response.status_code == 200
    assert len(response.json()) == 3


def test_insights_list_is_constant_in_queries(token_api, company, provider):
    counts = []
    for n in (10, 200):
        steps = make_journey(domains=1, steps=1)
        domain = steps[0].domain
        for _ in range(n):
            make_insight(
                company=company,
                context_hash=current_hash(company),
                domain=domain,
                status=Status.ACTIVE,
            )
        queries, response, writes = count_queries(
            token_api,
            reverse("company-insights", args=[company.pk]) + f"?domain={domain.pk}&page_size=200",
        )
        assert len(response.json()["results"]) == n
        assert writes == []
        counts.append(queries)
    check("insights", counts)
    assert provider.calls == 0


def test_health_is_constant_in_queries(token_api, company, provider):
    counts = []
    for n in (10, 200):
        make_steps(n)
        context = current_hash(company)
        HealthSummary.objects.all().delete()
        for i in range(n):  # earlier summaries do not cost more
            make_health(company=company, context_hash=f"{i:064d}", status=Status.STALE)
        make_health(company=company, context_hash=context, status=Status.ACTIVE)
        queries, _, writes = count_queries(token_api, reverse("company-health", args=[company.pk]))
        assert writes == []
        counts.append(queries)
    check("health", counts)
    assert provider.calls == 0


def test_journey_is_constant_in_queries(token_api, company):
    counts = []
    for n in (10, 200):
        steps = make_steps(n)
        for step in steps[::2]:
            services.update_step_progress(company=company, step=step, status="completed")
        queries, response, writes = count_queries(
            token_api, reverse("company-journey", args=[company.pk])
        )
        assert sum(len(d["steps"]) for d in response.json()) >= n
        assert writes == []
        counts.append(queries)
    check("journey", counts)


def test_effectiveness_list_is_constant_in_queries(token_api, company):
    counts = []
    for n in (10, 200):
        steps = make_steps(n)
        for step in steps:
            rec = make_recommendation(company=company, context_hash="0" * 64, step=step)
            RecommendationEffectiveness.objects.create(
                recommendation=rec, company=company, was_started=True
            )
        queries, response, _ = count_queries(
            token_api, reverse("company-effectiveness", args=[company.pk]) + "?page_size=200"
        )
        assert len(response.json()["results"]) == min(
            200, RecommendationEffectiveness.objects.count()
        )
        counts.append(queries)
    check("effectiveness", counts)


def test_deliverables_list_is_constant_in_queries(token_api, company, provider):
    counts = []
    for n in (10, 200):
        workspace = Workspace.objects.create(company=company, name=f"W{n}")
        make_deliverables(workspace=workspace, count=n)
        give_current_displays(workspace=workspace)
        url = f"/api/workspaces/{workspace.pk}/deliverables/?page_size=200"
        token_api.get(url)  # the first listing of a display renders it into the cache
        queries, response, writes = count_queries(token_api, url)
        assert len(response.json()["results"]) == n
        assert writes == []
        counts.append(queries)
    check("deliverables", counts)
    assert provider.calls == 0


def test_workspaces_list_is_constant_in_queries(token_api, company):
    counts = []
    for n in (10, 200):
        Workspace.objects.bulk_create(
            Workspace(company=company, name=f"W{n}-{i}")
            for i in range(n - Workspace.objects.count())
        )
        queries, response, _ = count_queries(token_api, "/api/workspaces/?page_size=200")
        assert len(response.json()["results"]) == n
        counts.append(queries)
    check("workspaces", counts)


def test_dashboard_is_constant_in_queries(member, company, provider):
    client = Client()
    client.force_login(member.user)
    counts = []
    for n in (10, 200):
        steps = make_steps(n)
        context = current_hash(company)
        for step in steps:
            make_recommendation(
                company=company, context_hash=context, step=step, status=Status.ACTIVE
            )
            make_insight(
                company=company, context_hash=context, domain=step.domain, status=Status.ACTIVE
            )
        make_health(company=company, context_hash=context, status=Status.ACTIVE)
        queries, response, writes = count_queries(
            client, reverse("company-dashboard", args=[company.pk])
        )
        assert response.content.count(b"Recommendation ") >= 3
        assert writes == []
        counts.append(queries)
        Recommendation.objects.all().delete()
        HealthSummary.objects.all().delete()
        company.step_progress.all().delete()
    # Session, user, the memberships (the company and the navigation's companies),
    # recommendations, insights, health.
    check("dashboard page (session auth)", counts, limit=6)
    assert provider.calls == 0
