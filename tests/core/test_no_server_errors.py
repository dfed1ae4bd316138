"""Bad input is a 4xx with the JSON error shape, never a 500, and changes nothing."""

import json

import pytest
from django.test import Client

from deliverables.models import Deliverable
from tests.deliverables.builders import make_deliverables, make_workspace


@pytest.fixture
def deliverable(company):
    return make_deliverables(workspace=make_workspace(company=company), count=1)[0]


def patch_raw(api, deliverable, body: str):
    return api.generic(
        "PATCH", f"/api/deliverables/{deliverable.pk}/", body, content_type="application/json"
    )


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def test_nul_byte_in_content_is_400_and_the_deliverable_is_unchanged(api, deliverable):
    response = patch_raw(api, deliverable, json.dumps({"content": {"k": "a\u0000"}}))

    assert_error(response, 400, "parse_error")
    assert Deliverable.objects.get(pk=deliverable.pk).content == deliverable.content


def test_lone_surrogate_in_content_is_400_and_the_deliverable_is_unchanged(api, deliverable):
    response = patch_raw(api, deliverable, '{"content": {"k": "\\ud800"}}')

    assert_error(response, 400, "parse_error")
    assert Deliverable.objects.get(pk=deliverable.pk).content == deliverable.content


def test_json_nested_1500_levels_deep_is_400(api, deliverable):
    body = '{"content": ' + "[" * 1500 + "]" * 1500 + "}"

    assert_error(patch_raw(api, deliverable, body), 400, "parse_error")


def test_usage_until_the_end_of_time_is_400(api):
    assert_error(api.get("/api/usage/?until=9999-12-31"), 400, "invalid")


def test_asking_for_html_from_a_json_endpoint_is_406_in_json(api, company):
    response = api.get(f"/api/companies/{company.pk}/insights/", HTTP_ACCEPT="text/html")

    assert_error(response, 406, "not_acceptable")


def test_anonymous_options_on_the_docs_page_is_405_in_json(anon_api):
    assert_error(anon_api.options("/api/docs/"), 405, "method_not_allowed")
    assert anon_api.get("/api/docs/").status_code == 200


def test_body_over_the_upload_limit_is_413_in_json(api, deliverable, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"content": {"k": "x" * 5000}})

    assert_error(patch_raw(api, deliverable, body), 413, "too_large")
    assert Deliverable.objects.get(pk=deliverable.pk).content == deliverable.content


def test_bad_host_header_under_the_api_is_400_in_json(db):
    response = Client().get("/api/health/", HTTP_HOST="evil.example")

    assert_error(response, 400, "bad_request")


def test_health_says_ok_without_details(db, anon_api):
    assert anon_api.get("/api/health/").json()["status"] == "ok"


def test_every_datetime_is_written_the_same_way(api, company):
    from django.utils import timezone

    from recommendations.models import CompanyStepProgress
    from tests.recommendations.builders import make_journey

    step = make_journey(domains=1, steps=1)[0]
    now = timezone.now()
    CompanyStepProgress.objects.create(
        company=company, step=step, status="in_progress", started_at=now, last_activity_at=now
    )

    journey = api.get(f"/api/companies/{company.pk}/journey/").json()

    started = journey[0]["steps"][0]["started_at"]
    assert started.endswith("Z") and "+00:00" not in started
