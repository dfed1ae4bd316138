"""A listing costs the same queries at 10 and at 200 rows. With a token and all
displays current: the token, the workspace and the page; the displays' rendered
fields come in one cache round trip."""

import pytest
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.deliverables.builders import (
    give_current_displays,
    list_url,
    make_deliverables,
    make_workspace,
)

# A cache outside the database, as Redis is in production (REDIS_CACHE_URL).
MEMORY_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "deliverables-queries",
    }
}


@pytest.fixture
def memory_cache(settings):
    settings.CACHES = MEMORY_CACHE
    cache.clear()


@pytest.fixture
def cache_calls(memory_cache, monkeypatch) -> list[str]:
    """The names of the cache's many-key methods called, in order."""
    calls: list[str] = []
    for name in ("get_many", "set_many"):
        original = getattr(LocMemCache, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(LocMemCache, name, spy)
    return calls


def _listing(client, workspace) -> tuple[int, dict, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(list_url(workspace), {"page_size": 200})
    assert response.status_code == 200, response.content
    return len(ctx), response.json(), [q["sql"] for q in ctx.captured_queries]


def _workspace_of(company, count: int):
    workspace = make_workspace(company=company, name=f"W{count}")
    make_deliverables(workspace=workspace, count=count)
    give_current_displays(workspace=workspace)
    return workspace


@pytest.mark.slow
@pytest.mark.django_db
def test_a_cached_listing_costs_three_queries_at_10_and_at_200_rows(
    token_api, company, provider, cache_calls
):
    token_api.get(list_url(make_workspace(company=company)))  # today's hit counter row
    counts = []
    for count in (10, 200):
        workspace = _workspace_of(company, count)
        first, _, _ = _listing(token_api, workspace)  # renders and caches the displays
        cache_calls.clear()
        again, body, sql = _listing(token_api, workspace)
        assert len(body["results"]) == count
        assert body["meta"]["cache"]["cached"] == count
        assert cache_calls == ["get_many"]
        # The token, the workspace (scoped to the caller's companies), the page.
        assert sum('FROM "deliverables_workspace"' in s for s in sql) == 1
        counts.append((first, again))

    assert counts == [(3, 3), (3, 3)]
    assert provider.calls == 0


@pytest.mark.slow
@pytest.mark.django_db
def test_with_the_database_cache_the_displays_cost_one_query_more(token_api, company, provider):
    token_api.get(list_url(make_workspace(company=company)))  # today's hit counter row
    counts = []
    for count in (10, 200):
        workspace = _workspace_of(company, count)
        token_api.get(list_url(workspace), {"page_size": 200})  # caches the displays
        queries, body, sql = _listing(token_api, workspace)
        assert len(body["results"]) == count
        assert sum("evergreen_cache" in s for s in sql) == 1
        counts.append(queries)

    assert counts == [4, 4]


@pytest.mark.django_db
def test_the_list_pages_by_cursor(api, workspace, provider):
    make_deliverables(workspace=workspace, count=7)
    give_current_displays(workspace=workspace)

    first = api.get(list_url(workspace), {"page_size": 5}).json()
    second = api.get(first["next"]).json()

    assert [r["title"] for r in first["results"]] == [f"Deliverable {n}" for n in range(1, 6)]
    assert [r["title"] for r in second["results"]] == ["Deliverable 6", "Deliverable 7"]
    assert second["next"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{"page_size": 201}, {"page_size": 0}, {"after": "x"}])
def test_a_bad_page_request_gets_a_400(api, workspace, params):
    response = api.get(list_url(workspace), params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
