"""Company users never read the provider's own words: a 401 from the model server (which
quotes the rejected key) reaches them as one plain sentence, in every response body,
every event and the run page; the provider's text stays in the log and the admin."""

import json
import logging

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from generation.flight import get_or_generate
from generation.models import Generation, GenerationLog
from generation.public import MESSAGES
from reviews import tasks
from reviews.models import Run
from tests.builders import make_prompt
from tests.reviews.builders import RUNS_URL, run_url, token_for

pytestmark = pytest.mark.django_db(transaction=True)

# The SDK's and the server's own phrasings of the refusal. A bare "401" is not among them:
# it turns up by chance in event timestamps and ids.
PROVIDER_WORDS = (
    "Incorrect API key",
    "HTTP 401",
    "Error code: 401",
    "test-key",
    "***",
    "invalid_request",
)


def _assert_no_provider_words(text: str) -> None:
    for words in PROVIDER_WORDS:
        assert words not in text, f"{words!r} reached a company user: {text[:500]}"


def _events(member, url: str) -> str:
    """The whole event stream of a finished generation or run, as a member reads it."""

    token = token_for(member)

    async def read() -> str:
        response = await AsyncClient().get(url, headers={"Authorization": f"Token {token}"})
        assert response.status_code == 200
        return b"".join([chunk async for chunk in response.streaming_content]).decode()

    return async_to_sync(read)()


def test_a_refused_key_reaches_members_as_a_plain_sentence_everywhere(
    api, member, client, fake_openai, caplog
):
    fake_openai.fail(401, times=None)
    caplog.set_level(logging.ERROR, logger="generation.providers.openai")
    make_prompt(key="note")

    # A generation of the member's company, failed by the provider.
    with pytest.raises(Exception):  # noqa: B017 (ProviderUnavailable: nothing to fall back on)
        get_or_generate(
            kind="note",
            scope=f"company:{member.company_id}",
            prompt_key="note",
            inputs={"topic": "keys"},
            company_id=member.company_id,
        )
    generation = Generation.objects.get(kind="note")
    body = api.get(f"/api/generations/{generation.pk}/").json()
    assert body["status"] == "failed"
    assert body["error"] == MESSAGES["provider_config"]
    _assert_no_provider_words(json.dumps(body))
    events = _events(member, f"/api/generations/{generation.pk}/events")
    assert "event: failed" in events
    _assert_no_provider_words(events)

    # A review run failed in its first step.
    run_id = api.post(RUNS_URL, {"idea": "Partner portal"}, format="json").json()["id"]
    assert tasks.execute_run(run_id) == "failed"
    body = api.get(run_url(run_id)).json()
    assert body["error"]["step"] == "expand"
    assert body["error"]["message"] == MESSAGES["provider_config"]
    _assert_no_provider_words(json.dumps(body))
    events = _events(member, f"{run_url(run_id)}events")
    assert "event: run_failed" in events
    _assert_no_provider_words(events)
    client.force_login(member.user)
    page = client.get(f"/reviews/runs/{run_id}/").content.decode()
    sentence = f"The proposal could not be written. {MESSAGES['provider_config']}"
    assert sentence.replace("'", "&#x27;") in page
    assert "expand" not in page.split('id="timeline"')[0]  # no step codes either
    _assert_no_provider_words(page)

    # The provider's words are kept where operators look, and the log names the setting.
    assert "Incorrect API key" in Run.objects.get(pk=run_id).error["provider_error"]
    assert GenerationLog.objects.filter(error__contains="HTTP 401").count() == 2
    assert "Incorrect API key" in Generation.objects.get(kind="note").error
    configuration = [r.getMessage() for r in caplog.records if "OPENAI_API_KEY" in r.getMessage()]
    assert configuration and "OPENAI_BASE_URL" in configuration[0]


def test_failed_reviews_and_a_fallback_proposal_show_no_provider_text(api, member, fake_openai):
    # The first run gets its proposal and then every review is refused.
    fake_openai.delay(0).fail(401, times=None)
    first = api.post(RUNS_URL, {"idea": "Usage alerts"}, format="json").json()["id"]
    assert tasks.execute_run(first) == "failed"
    # The second run's proposal call is refused too: the company's earlier proposal
    # (another idea) is the only content there is, and it is not accepted.
    second = api.post(RUNS_URL, {"idea": "Team budgets"}, format="json").json()["id"]
    assert tasks.execute_run(second) == "failed"

    for run_id in (first, second):
        body = api.get(run_url(run_id)).json()
        _assert_no_provider_words(json.dumps(body))
        _assert_no_provider_words(_events(member, f"{run_url(run_id)}events"))
    first_error = api.get(run_url(first)).json()["error"]
    assert first_error["step"] == "review"
    assert {f["message"] for f in first_error["failures"]} == {MESSAGES["provider_config"]}
    assert "review_failed" in _events(member, f"{run_url(first)}events")
    second_error = api.get(run_url(second)).json()["error"]
    assert second_error["step"] == "expand"
    assert second_error["message"] == MESSAGES["provider_unavailable"]
