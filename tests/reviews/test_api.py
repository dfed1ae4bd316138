"""API scoping, authentication, validation (one JSON error shape), listing and metrics."""

import subprocess
import sys
from decimal import Decimal

import pytest
from django.core import checks
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from reviews.aggregation import Vote, decide
from reviews.conf import check_settings
from reviews.lifecycle import RunStatus
from reviews.models import Run
from tests.builders import make_member
from tests.processes import ROOT, child_env
from tests.reviews.builders import RUNS_URL, run_url, start_run, token_for

pytestmark = pytest.mark.django_db


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_another_companys_run_is_404_everywhere(api, member, other_company):
    stranger = make_member(company=other_company)
    run = start_run(member=stranger)

    _error(api.get(run_url(run)), 404, "not_found")
    _error(api.post(f"{run_url(run)}revisions/", {"edit_notes": "x"}, format="json"), 404)
    sse_client = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(member)}")
    _error(sse_client.get(f"{run_url(run)}events"), 404)
    assert api.get(RUNS_URL).json()["count"] == 0
    _error(api.post(RUNS_URL, {"idea": "x", "company": other_company.pk}, format="json"), 404)


def test_anonymous_callers_get_401(anon_api, member):
    run = start_run(member=member)

    _error(anon_api.get(RUNS_URL), 401)
    _error(anon_api.post(RUNS_URL, {"idea": "x"}, format="json"), 401)
    _error(anon_api.get(run_url(run)), 401)
    _error(anon_api.get(f"{run_url(run)}events"), 401)
    _error(anon_api.get("/api/reviews/metrics/"), 401)


@pytest.mark.parametrize(
    "body",
    [{}, {"idea": ""}, {"idea": "x" * 10_001}, {"idea": "ok", "extra_context": [1, 2]}],
)
def test_bad_input_is_400_with_the_error_shape(api, body):
    error = _error(api.post(RUNS_URL, body, format="json"), 400, "invalid")
    assert error["details"]
    assert Run.objects.count() == 0


def test_bad_filters_and_waits_are_400(api, member):
    _error(api.get(RUNS_URL, {"status": "sleeping"}), 400, "invalid")
    _error(api.get(RUNS_URL, {"run_type": "other"}), 400, "invalid")
    _error(api.post(f"{RUNS_URL}?wait=-1", {"idea": "x"}, format="json"), 400, "invalid")


def test_a_viewer_cannot_start_a_run(company):
    viewer = make_member(company=company, role="viewer")
    client = APIClient()
    client.force_authenticate(viewer.user)

    _error(client.post(RUNS_URL, {"idea": "x"}, format="json"), 403)


def test_the_list_filters_and_costs_the_same_queries_for_many_runs(
    api, member, django_assert_max_num_queries
):
    def count_queries(n_runs: int) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            response = api.get(RUNS_URL)
        assert response.status_code == 200
        assert response.json()["count"] == n_runs
        return len(ctx.captured_queries)

    start_run(member=member)
    few = count_queries(1)
    for _ in range(5):
        start_run(member=member)
    Run.objects.filter(pk=Run.objects.first().pk).update(status=RunStatus.FAILED)

    assert count_queries(6) == few
    assert api.get(RUNS_URL, {"status": "failed"}).json()["count"] == 1
    assert api.get(RUNS_URL, {"status": "running", "run_type": "initial"}).json()["count"] == 5
    assert api.get(RUNS_URL, {"run_type": "revision"}).json()["count"] == 0
    page = api.get(RUNS_URL, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]


def test_a_running_run_is_202_with_its_partial_state(api, member):
    response = api.post(RUNS_URL, {"idea": "A status page"}, format="json")

    assert response.status_code == 202
    assert response["Retry-After"] == "1"
    body = api.get(response["Location"]).json()
    assert body["status"] == "running"
    assert body["proposal"] is None and body["reviews"] == [] and body["decision"] is None
    assert body["events_url"].endswith("/events")


def test_starting_runs_is_throttled_and_reading_them_is_not(api, member, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"generation": "2/minute"})
    run = start_run(member=member)

    starts = [api.post(RUNS_URL, {"idea": "x"}, format="json") for _ in range(3)]
    revision = api.post(f"{run_url(run)}revisions/", {"edit_notes": "x"}, format="json")

    assert [r.status_code for r in starts] == [202, 202, 429]
    assert starts[-1]["Retry-After"]
    assert revision.status_code == 429
    assert Run.objects.count() == 3
    assert {api.get(RUNS_URL).status_code for _ in range(5)} == {200}


def test_metrics_per_day(api, member):
    finished = start_run(member=member)
    Run.objects.filter(pk=finished.pk).update(
        status=RunStatus.FAILED,
        provider_calls=3,
        finished_at=finished.created_at + (finished.created_at - finished.created_at) * 0,
    )
    start_run(member=member)

    body = api.get("/api/reviews/metrics/").json()

    assert body["total"]["runs"] == 2
    assert body["total"]["failed"] == 1
    assert body["total"]["failure_rate"] == 1.0
    assert body["total"]["calls_per_run"] == 1.5
    assert body["total"]["duration_p50_seconds"] == 0.0
    assert len(body["days"]) == 1
    _error(api.get("/api/reviews/metrics/", {"since": "2026-02-02", "until": "2026-01-01"}), 400)


def test_any_blocking_issue_means_not_approved():
    def vote(key, confidence, blocking=False, weight="1"):
        return Vote(key, Decimal(weight), Decimal(confidence), blocking, False)

    assert decide([vote("a", "0.9"), vote("b", "0.8")])["label"] == "approve"
    blocked = decide([vote("a", "0.95"), vote("b", "0.9", blocking=True)])
    assert blocked["label"] == "revise"
    assert blocked["blocking_personas"] == ["b"]
    assert decide([vote("a", "0.5"), vote("b", "0.6")])["label"] == "reject"
    weighted = decide([vote("a", "1.0", weight="3"), vote("b", "0.0", weight="1")])
    assert weighted["overall_weighted_confidence"] == "0.7500"


def test_retry_settings_out_of_range_stop_the_process_with_a_clear_message(settings):
    settings.REVIEWS_MAX_RETRIES_PER_PERSONA = 11
    settings.REVIEWS_RETRY_INITIAL_BACKOFF_SECONDS = 0.05
    settings.REVIEWS_RETRY_BACKOFF_MULTIPLIER = 10
    errors = check_settings()
    assert [e.id for e in errors] == ["reviews.E001", "reviews.E001"]
    assert all(e.level == checks.ERROR for e in errors)
    assert "REVIEWS_MAX_RETRIES_PER_PERSONA is 11; it must be a number between 1 and 10" in (
        errors[0].msg
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=child_env(REVIEWS_RETRY_BACKOFF_MULTIPLIER="0.5"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "REVIEWS_RETRY_BACKOFF_MULTIPLIER is 0.5; it must be a number between 1 and 10" in (
        result.stderr
    )


def test_review_metrics_are_in_the_usage_report_and_on_the_usage_page_for_staff(api, member):
    from django.test import Client

    failed = start_run(member=member)
    Run.objects.filter(pk=failed.pk).update(status=RunStatus.FAILED, provider_calls=2)

    usage = api.get("/api/usage/").json()

    reviews = usage["sections"]["reviews"]
    assert reviews["total"]["runs"] == 1
    assert reviews["total"]["failed"] == 1
    assert reviews["total"]["calls_per_run"] == 2.0
    client = Client()
    client.force_login(member.user)
    assert "Review runs" not in client.get("/usage/").content.decode()
    member.user.is_staff = True
    member.user.save()
    page = client.get("/usage/").content.decode()
    assert "Review runs" in page
    assert "Calls / run" in page
