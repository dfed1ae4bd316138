"""API reads of content accept `Prefer: respond-async`: they answer at once."""

import pytest
from django.urls import reverse

from tests.builders import run_queued_tasks

ASYNC = {"HTTP_PREFER": "respond-async"}


@pytest.fixture
def fetch(api, django_capture_on_commit_callbacks):
    """GET with the request's on-commit hooks run (the background work it claims is
    queued, for run_queued_tasks)."""

    def get(url, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return api.get(url, **extra)

    return get


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("company-recommendations", ["recommendation"] * 3),
        ("company-insights", ["insight"]),
        ("company-health", ["health_summary"]),
    ],
)
def test_a_read_that_prefers_not_to_wait_lists_what_is_being_written(
    fetch, company, steps, provider, name, kinds
):
    url = reverse(name, args=[company.pk])

    response = fetch(url, **ASYNC)

    assert response.status_code == 202
    assert response["Preference-Applied"] == "respond-async"
    body = response.json()
    assert [p["kind"] for p in body["pending"]] == kinds
    first = body["pending"][0]
    assert first["generation"].startswith("http://testserver/api/generations/")
    assert first["events"] == first["generation"] + "events"
    assert provider.calls == 0

    run_queued_tasks()
    done = fetch(url, **ASYNC)
    assert done.status_code == 200  # nothing being written: the usual answer
    assert done["Preference-Applied"] == "respond-async"
    assert provider.calls == len(kinds)


def test_without_the_preference_a_read_waits_and_answers_as_before(api, company, steps, provider):
    response = api.get(reverse("company-health", args=[company.pk]))

    assert response.status_code == 200
    assert "Preference-Applied" not in response
    assert response.json()["content"]["headline"]
    assert provider.calls == 1


def test_the_pending_generation_url_gives_its_whole_state(fetch, company, steps, provider):
    pending = fetch(reverse("company-health", args=[company.pk]), **ASYNC).json()["pending"]

    state = fetch(pending[0]["generation"])

    assert state.status_code == 200
    assert state.json()["status"] == "pending"
