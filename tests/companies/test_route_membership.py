"""A token read of a company route is authenticated by the same query that
checks its membership (companies.permissions.RouteMembershipMixin), and answers as the
usual authentication would: 401 for a bad token or an inactive user, 404 for a route
of another company, and session users still get in."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommendations import services
from tests.builders import make_member
from tests.recommendations.builders import (
    make_health,
    make_insight,
    make_journey,
    make_ranked_insights,
    make_recommendation,
)


def token_client(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def health_url(company):
    make_journey(domains=1, steps=2)
    make_health(
        company=company,
        context_hash=services.current_snapshot(company=company).context_hash,
        status="active",
    )
    return reverse("company-health", args=[company.pk])


def get(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return response, len(ctx.captured_queries)


def test_a_cached_health_read_with_a_token_costs_one_query(member, health_url):
    response, queries = get(token_client(member.user), health_url)
    assert response.status_code == 200, response.content
    assert response.json()["content"]["headline"] == "Fine"
    assert queries == 1  # token, membership, company, lookups and the summary together


def test_a_token_read_that_generates_reads_its_new_content(member, company, provider):
    make_journey(domains=1, steps=2)
    url = reverse("company-health", args=[company.pk])
    client = token_client(member.user)
    first = client.get(url)
    assert first.status_code == 200, first.content
    assert provider.calls == 1
    # The empty read preloaded with the membership is not served after generating.
    assert first.json()["content"]["headline"]
    again, queries = get(client, url)
    assert again.json()["id"] == first.json()["id"]
    assert (provider.calls, queries) == (1, 1)


def test_a_token_recommendations_read_takes_its_limit_from_the_query(member, company, provider):
    steps = make_journey(domains=1, steps=4)
    context = services.current_snapshot(company=company).context_hash
    for step in steps:
        make_recommendation(company=company, context_hash=context, step=step, status="active")
    url = reverse("company-recommendations", args=[company.pk])
    client = token_client(member.user)
    two, queries = get(client, f"{url}?limit=2")
    assert (two.status_code, len(two.json()), queries) == (200, 2, 1)
    default = client.get(url).json()
    assert len(default) == 3  # RECOMMENDATIONS_DEFAULT_LIMIT
    assert client.get(f"{url}?limit=abc").status_code == 400
    assert client.get(f"{url}?limit=0").status_code == 400
    session = APIClient()
    session.force_login(member.user)
    shown = ("last_presented_at", "times_presented")  # each read is a showing
    by_session, by_token = session.get(f"{url}?limit=4").json(), client.get(f"{url}?limit=4").json()
    for row in by_session + by_token:
        for name in shown:
            row.pop(name)
    assert by_session == by_token
    assert provider.calls == 0


def test_a_journey_read_with_a_token_costs_one_query(member, company):
    make_journey(domains=2, steps=3)
    response, queries = get(
        token_client(member.user), reverse("company-journey", args=[company.pk])
    )
    assert response.status_code == 200
    assert [len(d["steps"]) for d in response.json()] == [3, 3]
    assert queries == 1  # the membership, the domains and their steps together


def test_an_unknown_token_is_401(db, health_url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get(health_url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_an_inactive_users_token_is_401(member, health_url):
    client = token_client(member.user)
    member.user.is_active = False
    member.user.save()
    assert client.get(health_url).status_code == 401


def test_another_companys_route_is_404_with_a_valid_token(other_company, health_url):
    outsider = make_member(company=other_company)
    response = token_client(outsider.user).get(health_url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_malformed_token_header_keeps_drfs_answer(member, health_url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two parts")
    assert client.get(health_url).status_code == 401


def test_a_session_user_still_reads(member, health_url):
    client = APIClient()
    client.force_login(member.user)
    assert client.get(health_url).status_code == 200


def test_the_request_user_is_the_tokens_user(member, health_url):
    response = token_client(member.user).get(health_url)
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == member.user.pk


def test_token_insight_pages_are_read_with_the_membership_and_match_a_sessions(
    member, company, provider
):
    steps = make_journey(domains=1, steps=2)
    domain, step = steps[0].domain, steps[1]
    context = services.current_snapshot(company=company).context_hash
    make_ranked_insights(company=company, domain=domain)
    for _ in range(2):
        make_insight(
            company=company, context_hash=context, domain=domain, step=step, status="active"
        )
    url = reverse("company-insights", args=[company.pk])
    client = token_client(member.user)
    session = APIClient()
    session.force_login(member.user)
    shown = ("last_presented_at", "times_presented")  # each read is a showing

    def body(c, query):
        response = c.get(f"{url}?{query}")
        assert response.status_code == 200, response.content
        data = response.json()
        for row in data["results"]:
            for name in shown:
                row.pop(name)
        return data

    for query in (
        f"domain={domain.pk}&page_size=3",
        f"domain={domain.pk}&page=2&page_size=3",
        f"step={step.pk}",
        f"domain={domain.pk}&step={step.pk}",
    ):
        assert body(client, query) == body(session, query), query
    page, queries = get(client, f"{url}?domain={domain.pk}&page_size=3")
    # The domain filter's own lookup (a 400 for an unknown id), then the rest together.
    assert (page.json()["count"], len(page.json()["results"]), queries) == (7, 3, 2)
    assert client.get(f"{url}?domain={domain.pk}&page=9").status_code == 404
    assert client.get(f"{url}?domain={domain.pk}&page=0").status_code == 404
    assert client.get(f"{url}?domain=999999").status_code == 400
    assert client.get(f"{url}?domain=x").status_code == 400
    assert client.get(f"{url}?step={step.pk}&domain={domain.pk + 1}").status_code == 400
    assert provider.calls == 0


@pytest.mark.parametrize("auth", ["token", "session"])
def test_an_insight_page_past_any_database_number_is_404(member, company, auth):
    domain = make_journey(domains=1, steps=1)[0].domain
    context = services.current_snapshot(company=company).context_hash
    make_insight(company=company, context_hash=context, domain=domain, status="active")
    client = token_client(member.user)
    if auth == "session":
        client = APIClient()
        client.force_login(member.user)
    url = reverse("company-insights", args=[company.pk])
    response = client.get(f"{url}?domain={domain.pk}&page=2305843009213693953")
    assert response.status_code == 404, response.content
