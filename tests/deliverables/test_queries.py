"""A listing costs the same queries at 10 and at 200 rows. With a token and all
displays current: the token, the workspace and the page; the displays' rendered
fields come in one cache round trip."""

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.deliverables.builders import (
    give_current_displays,
    list_url,
    make_deliverables,
    make_workspace,
)


@pytest.fixture
def cache_calls(monkeypatch) -> list[str]:
    """The names of the default cache's many-key methods called, in order (the
    process's memory; Redis in production has the same calls)."""
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
