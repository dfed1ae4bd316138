"""A constant number of queries per listing, the workspace fetched once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.deliverables.builders import (
    give_current_displays,
    list_url,
    make_deliverables,
    make_workspace,
)


def _queries_for(api, workspace) -> tuple[int, dict, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(list_url(workspace), {"page_size": 200})
    assert response.status_code == 200
    return len(ctx), response.json(), [q["sql"] for q in ctx.captured_queries]


@pytest.mark.slow
@pytest.mark.django_db
def test_the_cached_list_costs_the_same_queries_at_5_and_200_deliverables(api, company, provider):
    small = make_workspace(company=company, name="Small")
    large = make_workspace(company=company, name="Large")
    make_deliverables(workspace=small, count=5)
    make_deliverables(workspace=large, count=200)
    give_current_displays(workspace=small)
    give_current_displays(workspace=large)
    api.get(list_url(small))  # creates today's hit counter row

    small_count, small_body, _ = _queries_for(api, small)
    large_count, large_body, large_sql = _queries_for(api, large)

    assert small_count == large_count
    assert len(small_body["results"]) == 5
    assert len(large_body["results"]) == 200
    assert large_body["meta"]["cache"]["cached"] == 200
    assert provider.calls == 0
    # The workspace row is read once per request.
    assert sum('FROM "deliverables_workspace"' in sql for sql in large_sql) == 1


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
