"""Scoping, roles, input errors, throttling and the documented schema."""

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from deliverables.models import Deliverable
from deliverables.services import KIND
from generation.writebehind import flush_now
from tests.builders import make_member
from tests.deliverables.builders import (
    give_current_displays,
    list_url,
    make_deliverables,
    make_workspace,
)


@pytest.mark.django_db
def test_another_companys_workspace_and_deliverable_are_not_found(api, other_company, provider):
    theirs = make_workspace(company=other_company, name="Theirs")
    [deliverable] = make_deliverables(workspace=theirs, count=1)

    listing = api.get(list_url(theirs))
    detail = api.get(f"/api/deliverables/{deliverable.pk}/")
    edit = api.patch(f"/api/deliverables/{deliverable.pk}/", {"title": "x"}, format="json")

    assert listing.status_code == detail.status_code == edit.status_code == 404
    assert listing.json()["error"]["code"] == "not_found"
    assert provider.calls == 0
    assert Deliverable.objects.get(pk=deliverable.pk).title == "Deliverable 1"


@pytest.mark.django_db
def test_another_companys_workspace_is_404_with_a_valid_token(token_api, other_company):
    theirs = make_workspace(company=other_company, name="Theirs")

    assert token_api.get(list_url(theirs)).status_code == 404
    assert token_api.get(f"/api/workspaces/{theirs.pk + 1000}/deliverables/").status_code == 404


@pytest.mark.django_db
def test_a_token_client_and_a_logged_in_browser_see_the_same_listing(
    token_api, member, workspace, provider
):
    made = make_deliverables(workspace=workspace, count=5)
    give_current_displays(workspace=workspace)
    browser = APIClient()
    browser.force_login(member.user)
    page = {"page_size": 2, "after": made[0].pk}

    by_token = token_api.get(list_url(workspace), page).json()
    by_browser = browser.get(list_url(workspace), page).json()

    assert [r["id"] for r in by_token["results"]] == [d.pk for d in made[1:3]]
    assert by_token["workspace"]["company"] == workspace.company_id
    assert by_token["next"] and by_token == by_browser


@pytest.mark.django_db
def test_an_anonymous_caller_is_refused(anon_api, workspace):
    response = anon_api.get(list_url(workspace))
    assert response.status_code in (401, 403)
    assert "error" in response.json()


@pytest.mark.django_db
def test_a_viewer_may_read_but_not_edit(workspace, company):
    viewer = make_member(company=company, role="viewer")
    client = APIClient()
    client.force_authenticate(viewer.user)
    [deliverable] = make_deliverables(workspace=workspace, count=1)

    assert client.get(f"/api/deliverables/{deliverable.pk}/").status_code == 200
    response = client.patch(
        f"/api/deliverables/{deliverable.pk}/", {"content": {"a": 1}}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Deliverable.objects.get(pk=deliverable.pk).content == deliverable.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{"content": "not an object"}, {"status": "archived"}, {}, {"title": ""}],
)
def test_bad_edits_get_a_400_and_change_nothing(api, workspace, body):
    [deliverable] = make_deliverables(workspace=workspace, count=1)

    response = api.patch(f"/api/deliverables/{deliverable.pk}/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    after = Deliverable.objects.get(pk=deliverable.pk)
    assert (after.title, after.status, after.content) == (
        deliverable.title,
        deliverable.status,
        deliverable.content,
    )


@pytest.mark.django_db
def test_put_is_not_allowed(api, workspace):
    [deliverable] = make_deliverables(workspace=workspace, count=1)
    response = api.put(f"/api/deliverables/{deliverable.pk}/", {"title": "x"}, format="json")
    assert response.status_code == 405


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("transform_threads_finish")
def test_the_list_endpoint_is_throttled_when_it_generates(api, workspace, provider, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"generation": "2/minute"})

    codes = []
    for _ in range(3):
        make_deliverables(workspace=workspace, count=1)  # each read has one to transform
        codes.append(api.get(list_url(workspace)).status_code)

    assert codes == [200, 200, 429]
    assert provider.calls == 2
    assert api.get(list_url(workspace)).headers["Retry-After"]


@pytest.mark.django_db
def test_a_list_served_from_stored_content_is_not_throttled(api, workspace, provider, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"generation": "2/minute"})
    make_deliverables(workspace=workspace, count=3)
    give_current_displays(workspace=workspace)

    codes = {api.get(list_url(workspace)).status_code for _ in range(10)}

    assert codes == {200}
    assert provider.calls == 0


@pytest.mark.django_db(transaction=True)
def test_usage_reports_the_listings_calls_and_cache_hits(api, workspace, provider):
    make_deliverables(workspace=workspace, count=4)

    api.get(list_url(workspace))  # 4 calls
    api.get(list_url(workspace))  # 4 hits
    api.get(list_url(workspace))  # 4 hits
    flush_now()  # the hits are written by the process's next flush
    usage = api.get("/api/usage/", {"kind": KIND})

    assert usage.status_code == 200
    totals = usage.json()["totals"]
    assert totals["provider_calls"] == 4
    assert totals["cache_hits"] == 8
    assert totals["calls_saved"] == 8


@pytest.mark.django_db
def test_workspaces_are_listed_for_their_company_only(api, company, other_company):
    mine = make_workspace(company=company, name="Mine")
    make_workspace(company=other_company, name="Theirs")

    response = api.get("/api/workspaces/")

    assert response.status_code == 200
    assert [w["id"] for w in response.json()["results"]] == [mine.pk]


@pytest.mark.django_db
def test_the_listing_is_in_the_openapi_schema(api):
    response = api.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    listing = paths["/api/workspaces/{id}/deliverables/"]["get"]
    schema_ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.endswith("DeliverableListResponse")
    assert "patch" in paths["/api/deliverables/{id}/"]
