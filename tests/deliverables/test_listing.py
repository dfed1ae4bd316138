"""The cache-first listing: one provider call per deliverable, once."""

import json
import sys
import time

import pytest
from rest_framework.authtoken.models import Token

from deliverables.models import Deliverable, TransformationStatus
from deliverables.services import KIND
from generation.errors import ProviderError
from generation.models import GenerationLog, Prompt
from tests.deliverables.builders import give_current_displays, list_url, make_deliverables
from tests.processes import child_env, started, wait_until

pytestmark = pytest.mark.usefixtures("transform_threads_finish")


def _cache(response) -> dict:
    return response.json()["meta"]["cache"]


def _statuses(response) -> list[str]:
    return [row["content_transformation_status"] for row in response.json()["results"]]


RESTARTED_READ = """
import json
from rest_framework.test import APIClient
client = APIClient()
client.credentials(HTTP_AUTHORIZATION="Token {token}")
response = client.get("{url}")
print("RESULT " + json.dumps({{"status": response.status_code, "body": response.json()}}))
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_five_deliverables_cost_five_calls_once_then_none_even_after_restart(
    api, member, workspace, provider
):
    make_deliverables(workspace=workspace, count=5)

    first = api.get(list_url(workspace))
    assert first.status_code == 200
    assert provider.calls == 5
    assert _cache(first) == {
        "cached": 0,
        "transformed": 5,
        "queued": 0,
        "pending": 0,
        "failed": 0,
        "calls_saved": 0,
    }
    assert _statuses(first) == ["success"] * 5
    assert all("Findings number" in row["display_content"] for row in first.json()["results"])
    stored = Deliverable.objects.filter(workspace=workspace)
    assert all(d.display_is_current and d.auto_display_generated for d in stored)

    second = api.get(list_url(workspace))
    assert provider.calls == 5
    assert _cache(second)["cached"] == 5
    assert _cache(second)["calls_saved"] == 5
    assert _cache(second)["transformed"] == 0
    assert second.json()["results"] == first.json()["results"]

    # A new process (a restart) reads the same rows: still no call. The in-process
    # counting provider does not reach the child, but every call writes a log row.
    logs_before = GenerationLog.objects.filter(kind=KIND).count()
    assert logs_before == 5
    token = Token.objects.create(user=member.user)
    script = RESTARTED_READ.format(token=token.key, url=list_url(workspace))
    with started(
        [sys.executable, "manage.py", "shell", "-c", script],
        env=child_env(EVERGREEN_PROVIDER="offline"),
    ) as proc:
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    result = json.loads(output.split("RESULT ", 1)[1])
    assert result["status"] == 200
    assert result["body"]["meta"]["cache"]["cached"] == 5
    assert result["body"]["meta"]["cache"]["transformed"] == 0
    assert GenerationLog.objects.filter(kind=KIND).count() == logs_before


@pytest.mark.django_db(transaction=True)
def test_transformation_past_the_timeout_is_pending_and_the_request_still_answers(
    api, workspace, provider, settings
):
    settings.AI_TRANSFORM_TIMEOUT = 0.3
    provider.delay = 2.0
    [deliverable] = make_deliverables(workspace=workspace, count=1)

    started_at = time.monotonic()
    response = api.get(list_url(workspace))
    elapsed = time.monotonic() - started_at

    assert response.status_code == 200
    assert elapsed < 1.5
    assert _statuses(response) == ["pending"]
    assert _cache(response)["pending"] == 1
    assert _cache(response)["transformed"] == 0

    # While the first transform still runs, a second read neither starts nor queues another.
    again = api.get(list_url(workspace))
    assert _statuses(again) == ["pending"]
    assert _cache(again)["queued"] == 0
    assert provider.calls == 1

    # The slow transform ends in its thread and is stored; then it is served from cache.
    wait_until(
        lambda: (
            Deliverable.objects.get(pk=deliverable.pk).content_transformation_status
            == TransformationStatus.SUCCESS
        ),
        timeout=10,
    )
    provider.delay = 0
    later = api.get(list_url(workspace))
    assert _cache(later)["cached"] == 1
    assert provider.calls == 1


@pytest.mark.django_db(transaction=True)
def test_editing_content_costs_exactly_one_new_call_on_the_next_read(api, workspace, provider):
    deliverables = make_deliverables(workspace=workspace, count=3)
    api.get(list_url(workspace))
    assert provider.calls == 3

    edited = api.patch(
        f"/api/deliverables/{deliverables[1].pk}/",
        {"content": {"summary": "Revised findings after the pilot", "points": ["new"]}},
        format="json",
    )
    assert edited.status_code == 200
    assert edited.json()["content_transformation_status"] == "stale"

    after = api.get(list_url(workspace))
    assert provider.calls == 4
    assert _cache(after)["transformed"] == 1
    assert _cache(after)["cached"] == 2
    row = after.json()["results"][1]
    assert row["content_transformation_status"] == "success"
    assert "Revised findings after the pilot" in row["display_content"]

    api.get(list_url(workspace))
    assert provider.calls == 4


@pytest.mark.django_db(transaction=True)
def test_a_provider_failure_marks_the_deliverable_failed_and_the_list_still_answers(
    api, workspace, provider
):
    provider.fail_with = ProviderError("model is down", transient=False)
    make_deliverables(workspace=workspace, count=2)

    response = api.get(list_url(workspace))

    assert response.status_code == 200
    assert _statuses(response) == ["failed", "failed"]
    assert _cache(response)["failed"] == 2
    assert not Deliverable.objects.filter(
        workspace=workspace, content_transformation_status=TransformationStatus.SUCCESS
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_only_completed_deliverables_are_transformed(api, workspace, provider):
    make_deliverables(workspace=workspace, count=2, status="in_progress")
    make_deliverables(workspace=workspace, count=1)

    response = api.get(list_url(workspace))

    assert provider.calls == 1
    assert _statuses(response) == ["none", "none", "success"]


@pytest.mark.django_db
def test_without_an_active_prompt_stored_displays_are_still_served(
    api, workspace, provider, display_prompt
):
    make_deliverables(workspace=workspace, count=2)
    give_current_displays(workspace=workspace)
    make_deliverables(workspace=workspace, count=1)
    Prompt.objects.filter(pk=display_prompt.pk).update(is_active=False)

    response = api.get(list_url(workspace))

    assert response.status_code == 200
    assert _cache(response)["cached"] == 2
    assert _cache(response)["failed"] == 1
    assert provider.calls == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_transforms_past_the_processs_thread_slots_are_queued_not_waited_for(
    api, workspace, provider, settings
):
    settings.AI_TRANSFORM_THREADS = 2
    make_deliverables(workspace=workspace, count=5)

    first = api.get(list_url(workspace))

    assert first.status_code == 200
    cache = _cache(first)
    assert (cache["transformed"], cache["queued"], cache["pending"]) == (2, 3, 3)
    assert provider.calls == 2
