"""A token read of a company or workspace route is authenticated by the same query that
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
from tests.deliverables.builders import give_current_displays, make_deliverables, make_workspace
from tests.recommendations.builders import make_health, make_journey


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


def test_a_cached_health_read_with_a_token_costs_two_queries(member, health_url):
    response, queries = get(token_client(member.user), health_url)
    assert response.status_code == 200, response.content
    assert response.json()["content"]["headline"] == "Fine"
    assert queries == 2  # token + membership + company + lookups, then the summary


def test_a_journey_read_with_a_token_costs_three_queries(member, company):
    make_journey(domains=2, steps=3)
    response, queries = get(
        token_client(member.user), reverse("company-journey", args=[company.pk])
    )
    assert response.status_code == 200
    assert [len(d["steps"]) for d in response.json()] == [3, 3]
    assert queries == 3


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


def test_a_cached_deliverables_page_with_a_token_costs_two_queries(member, company):
    workspace = make_workspace(company=company)
    make_deliverables(workspace=workspace, count=3)
    give_current_displays(workspace=workspace)
    url = reverse("workspace-deliverables", args=[workspace.pk])
    response, queries = get(token_client(member.user), url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["workspace"]["id"] == workspace.pk
    assert body["workspace"]["name"] == workspace.name
    assert body["workspace"]["company"] == company.pk
    assert len(body["results"]) == 3
    assert queries == 2


def test_another_companys_workspace_is_404_with_a_valid_token(member, other_company):
    workspace = make_workspace(company=other_company)
    url = reverse("workspace-deliverables", args=[workspace.pk])
    assert token_client(member.user).get(url).status_code == 404
    missing = reverse("workspace-deliverables", args=[workspace.pk + 1000])
    assert token_client(member.user).get(missing).status_code == 404
