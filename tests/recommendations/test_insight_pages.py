"""Insight pages: one query reads a page and its total; page and filter errors keep
their answers (404 for a page past the end, 400 for a bad domain or step)."""

import pytest
from django.urls import reverse

from tests.recommendations.builders import make_ranked_insights


@pytest.fixture
def domain_insights(company, steps):
    domain = steps[0].domain
    make_ranked_insights(company=company, domain=domain)
    return domain


def url(company, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("company-insights", args=[company.pk]) + "?" + query


def test_pages_carry_the_total_and_their_links(api, company, domain_insights, provider):
    first = api.get(url(company, domain=domain_insights.pk, page_size=2)).json()
    assert first["count"] == 5
    assert [i["relevance_score"] for i in first["results"]] == [0.9, 0.8]
    assert first["previous"] is None and "page=2" in first["next"]
    last = api.get(url(company, domain=domain_insights.pk, page_size=2, page=3)).json()
    assert last["count"] == 5
    assert [i["relevance_score"] for i in last["results"]] == [0.5]
    assert last["next"] is None and last["previous"]
    assert provider.calls == 0


def test_a_domain_is_found_by_its_slug_as_by_its_id(api, company, domain_insights, provider):
    by_id = api.get(url(company, domain=domain_insights.pk)).json()
    by_slug = api.get(url(company, domain=domain_insights.slug)).json()

    assert by_slug["count"] == by_id["count"] == 5
    assert [i["id"] for i in by_slug["results"]] == [i["id"] for i in by_id["results"]]
    assert provider.calls == 0


def test_the_last_page_by_name_is_found(api, company, domain_insights, provider):
    body = api.get(url(company, domain=domain_insights.pk, page_size=2, page="last")).json()
    assert [i["relevance_score"] for i in body["results"]] == [0.5]


@pytest.mark.parametrize("page", ["4", "0", "abc", "1.5"])
def test_a_page_that_is_not_there_is_404(api, company, domain_insights, page):
    response = api.get(url(company, domain=domain_insights.pk, page_size=2, page=page))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("domain", ["999999", "abc", "99999999999999999999999", "true"])
def test_a_domain_that_is_not_there_is_400(api, company, steps, domain):
    response = api.get(url(company, domain=domain))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_step_filter_resolves_its_domain(api, company, steps, provider):
    response = api.get(url(company, step=steps[1].pk))
    assert response.status_code == 200
    assert all(i["step"]["id"] == steps[1].pk for i in response.json()["results"])
