"""Review runs end to end through the fake OpenAI server, on PostgreSQL. Reviews run in
threads with connections of their own, so these tests commit (transaction=True)."""

import json

import pytest
from django.db import transaction

from reviews import services, tasks
from reviews.lifecycle import EventType, RunStatus, RunType
from reviews.models import Decision, PersonaReview, ProposalVersion, Run, RunEvent
from tests.reviews.builders import RUNS_URL, run_url

pytestmark = pytest.mark.django_db(transaction=True)


def _post(api, body, **headers):
    return api.post(RUNS_URL, body, format="json", **headers)


def _event_types(run) -> list[str]:
    return list(RunEvent.objects.filter(run=run).order_by("id").values_list("type", flat=True))


def _without_text(types: list[str]) -> list[str]:
    return [t for t in types if t != EventType.PROPOSAL_TEXT]


def test_five_personas_make_one_expand_and_five_review_calls_and_complete(
    api, fake_openai, personas
):
    response = _post(api, {"idea": "A shared team calendar", "extra_context": {"team": 12}})

    assert response.status_code == 202
    run_id = response.json()["id"]
    assert response["Location"] == response.json()["url"] == run_url(run_id)
    # The run and its first event exist before any worker touched it.
    assert _event_types(run_id) == [EventType.RUN_CREATED]
    assert fake_openai.calls == 0

    assert tasks.execute_run(run_id) == "completed"

    assert fake_openai.calls == 6  # 1 expand + 5 reviews
    assert [bool(r.get("stream")) for r in fake_openai.requests].count(True) == 1
    run = Run.objects.get(pk=run_id)
    assert run.status == RunStatus.COMPLETED
    assert run.provider_calls == 6
    assert run.finished_at is not None
    assert ProposalVersion.objects.filter(run=run).count() == 1
    reviews = PersonaReview.objects.filter(run=run)
    assert sorted(r.persona.key for r in reviews) == sorted(p.key for p in personas)
    assert all(r.attempt_count == 1 for r in reviews)
    decision = Decision.objects.get(run=run)
    assert run.decision_label == decision.decision["label"]
    assert run.overall_weighted_confidence == decision.overall_weighted_confidence

    types = _event_types(run)
    assert EventType.PROPOSAL_TEXT in types  # the stream was copied as it came
    assert _without_text(types) == [
        EventType.RUN_CREATED,
        EventType.RUN_STARTED,
        EventType.PROPOSAL_STORED,
        *[EventType.REVIEW_STORED] * 5,
        EventType.DECISION_STORED,
        EventType.RUN_COMPLETED,
    ]
    text = "".join(
        e.data["text"] for e in RunEvent.objects.filter(run=run, type=EventType.PROPOSAL_TEXT)
    )
    assert json.loads(text)["title"] == run.proposal.expanded_proposal["title"]

    body = api.get(run_url(run)).json()
    assert body["status"] == "completed"
    assert len(body["reviews"]) == 5
    assert body["decision"]["decision"]["label"] in ("approve", "revise", "reject")
    assert body["proposal"]["expanded_proposal"]["title"]
    assert body["parameters"]["persona_template_version"] == {p.key: 1 for p in personas}
    # Who made it: the provider and the model it named, not only what was asked for.
    assert (body["provider"], body["model"]) == ("openai", "gpt-4o-mini")


def test_a_run_names_the_provider_and_model_that_made_its_content(api, provider):
    run_id = _post(api, {"idea": "A shared team calendar"}).json()["id"]
    # While nothing is made, nothing is claimed.
    assert (api.get(run_url(run_id)).json()["provider"], Run.objects.get().model) == ("", "")

    assert tasks.execute_run(run_id) == "completed"

    body = api.get(run_url(run_id)).json()
    assert (body["provider"], body["model"]) == ("offline", "offline")
    assert body["parameters"]["expand_model"] == "gpt-4o-mini"  # what was asked for
    # A second run of the same idea is served from the cache: still offline's work.
    again = _post(api, {"idea": "A shared team calendar"}).json()["id"]
    assert tasks.execute_run(again) == "completed"
    body = api.get(run_url(again)).json()
    assert (body["provider"], body["model"], body["provider_calls"]) == ("offline", "offline", 0)


def test_429_twice_then_success_counts_3_attempts_and_401_fails_the_run_keeping_partials(
    api, fake_openai, settings, personas
):
    # One persona at a time, in persona order, so the script reaches the right one.
    settings.REVIEWS_MAX_CONCURRENCY = 1
    (
        fake_openai.delay(0)  # expand
        .fail(429)  # architect, attempt 1
        .fail(429)  # architect, attempt 2
        .delay(0)  # architect, attempt 3: success
        .delay(0)  # security
        .fail(401)  # product: not transient, not retried
    )
    run_id = _post(api, {"idea": "Self-service refunds"}).json()["id"]

    assert tasks.execute_run(run_id) == "failed"

    assert fake_openai.calls == 1 + 3 + 1 + 1 + 2  # operations and finance still reviewed
    run = Run.objects.get(pk=run_id)
    assert run.status == RunStatus.FAILED
    assert run.error["step"] == "review"
    assert run.error["persona"] == "product"
    assert run.error["attempt_count"] == 1
    assert "401" in run.error["provider_error"]
    kept = {r.persona.key: r for r in PersonaReview.objects.filter(run=run)}
    assert sorted(kept) == ["architect", "finance", "operations", "security"]
    assert kept["architect"].attempt_count == 3
    assert kept["security"].attempt_count == 1
    assert not Decision.objects.filter(run=run).exists()
    types = _without_text(_event_types(run))
    assert types.count(EventType.REVIEW_STORED) == 4
    assert types[-2:] == [EventType.REVIEW_FAILED, EventType.RUN_FAILED] or (
        types[-1] == EventType.RUN_FAILED and EventType.REVIEW_FAILED in types
    )

    body = api.get(run_url(run)).json()
    assert body["status"] == "failed"
    assert body["error"]["persona"] == "product"
    assert body["error"]["step"] == "review"
    assert body["proposal"] is not None
    assert sorted(r["persona"] for r in body["reviews"]) == sorted(kept)
    assert {r["persona"]: r["attempt_count"] for r in body["reviews"]}["architect"] == 3
    assert body["decision"] is None


def test_same_idempotency_key_returns_the_same_run_and_another_body_is_422(api, fake_openai):
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-42"}
    first = _post(api, {"idea": "Weekly digest email"}, **headers)
    run_id = first.json()["id"]
    tasks.execute_run(run_id)
    calls = fake_openai.calls

    again = _post(api, {"idea": "Weekly digest email"}, **headers)

    assert again.status_code == 200  # finished: the same run, whole
    assert again.json()["id"] == run_id
    assert again.json()["status"] == "completed"
    assert fake_openai.calls == calls
    assert Run.objects.count() == 1

    other = _post(api, {"idea": "Monthly digest email"}, **headers)

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert other.json()["error"]["details"]["run_id"] == run_id
    assert Run.objects.count() == 1
    assert fake_openai.calls == calls


def test_a_revision_calls_only_the_personas_whose_sections_changed(api, fake_openai, personas):
    parent_id = _post(api, {"idea": "Usage-based pricing"}).json()["id"]
    tasks.execute_run(parent_id)
    parent = Run.objects.get(pk=parent_id)
    assert fake_openai.calls == 6
    revised = dict(parent.proposal.expanded_proposal)
    revised["costs_and_value"] = "Cheaper: a flat platform fee plus metered usage."
    fake_openai.reset()
    fake_openai.reply(json.dumps(revised))  # the expand call of the revision

    response = api.post(
        f"{run_url(parent)}revisions/", {"edit_notes": "Lower the costs."}, format="json"
    )
    assert response.status_code == 202
    child_id = response.json()["id"]
    assert tasks.execute_run(child_id) == "completed"

    child = Run.objects.get(pk=child_id)
    assert child.run_type == RunType.REVISION
    assert child.parent_run_id == parent.pk
    assert child.proposal.edit_notes == "Lower the costs."
    assert child.proposal.proposal_diff["changed"] == ["costs_and_value"]
    assert child.proposal.proposal_diff["sections"]["costs_and_value"]["after"].startswith(
        "Cheaper"
    )
    # Only finance reads costs_and_value: 1 expand + 1 review; the others come from the cache.
    assert fake_openai.calls == 2
    assert "costs_and_value" in fake_openai.requests[1]["input"]
    sources = {
        r.persona.key: (r.prompt_parameters["source"], r.attempt_count)
        for r in PersonaReview.objects.filter(run=child)
    }
    assert sources.pop("finance") == ("generated", 1)
    assert set(sources.values()) == {("cache", 0)}
    assert child.provider_calls == 2
    assert api.get(run_url(child)).json()["parent_run"] == str(parent.pk)


def test_a_revision_of_a_run_without_proposal_is_409(api, member, fake_openai):
    fake_openai.fail(401)
    run_id = _post(api, {"idea": "Dark mode"}).json()["id"]
    tasks.execute_run(run_id)
    assert Run.objects.get(pk=run_id).error["step"] == "expand"

    response = api.post(f"{run_url(run_id)}revisions/", {"edit_notes": "x"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_proposal"


def test_the_task_is_safe_to_run_twice(api, fake_openai):
    run_id = _post(api, {"idea": "Audit log export"}).json()["id"]
    assert tasks.execute_run(run_id) == "completed"
    calls = fake_openai.calls

    assert tasks.execute_run(run_id) == "skipped"
    assert services.recover_runs() == []
    assert fake_openai.calls == calls
    assert PersonaReview.objects.filter(run_id=run_id).count() == 5


def test_post_can_wait_for_the_result(api, fake_openai, monkeypatch):
    # The worker runs at once (as a cluster would): the wait sees the finished run.
    monkeypatch.setattr(
        "reviews.services.runs.enqueue",
        lambda run_id, reason="": transaction.on_commit(lambda: tasks.execute_run(str(run_id))),
    )
    response = api.post(f"{RUNS_URL}?wait=10", {"idea": "Offline mode"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert len(response.json()["reviews"]) == 5


def test_a_persona_gets_at_most_its_configured_retries(api, fake_openai, settings, personas):
    settings.REVIEWS_MAX_CONCURRENCY = 1
    settings.REVIEWS_MAX_RETRIES_PER_PERSONA = 1
    settings.REVIEWS_RETRY_INITIAL_BACKOFF_SECONDS = 0.1
    fake_openai.delay(0).fail(429, times=3)  # expand, then the architect: 429 x 3
    run_id = _post(api, {"idea": "Usage-based pricing"}).json()["id"]

    assert tasks.execute_run(run_id) == "failed"

    run = Run.objects.get(pk=run_id)
    assert run.parameters["retry"]["max_retries"] == 1
    assert run.error["persona"] == "architect"
    assert run.error["attempt_count"] == 2  # the first attempt and one retry


def test_the_api_does_not_show_the_providers_own_error_text(api, fake_openai, personas):
    fake_openai.delay(0).fail(401, times=None)  # expand succeeds, every review is refused
    run_id = _post(api, {"idea": "Partner portal"}).json()["id"]
    tasks.execute_run(run_id)

    body = api.get(f"{RUNS_URL}{run_id}/").json()

    assert body["status"] == "failed"
    assert body["error"]["step"] == "review"
    assert "provider_error" not in body["error"]
    assert "API key" not in json.dumps(body)
    assert "401" in Run.objects.get(pk=run_id).error["provider_error"]  # kept for the admin
