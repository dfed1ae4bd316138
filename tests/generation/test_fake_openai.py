"""The fake OpenAI server, driven by the official SDK (and plain httpx) over real HTTP."""

import json
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest
from pydantic import BaseModel, Field

from generation.providers import get_provider
from tests.fake_openai.server import FakeOpenAI
from tests.processes import child_env


class Level(BaseModel):
    name: str
    level: int = Field(ge=1, le=3)
    urgent: bool


class Step(BaseModel):
    title: str
    effort: int = Field(ge=1, le=5)


class Plan(BaseModel):
    summary: str
    steps: list[Step] = Field(min_length=2, max_length=4)


def sdk(fake: FakeOpenAI, timeout: float = 2.0) -> openai.OpenAI:
    return openai.OpenAI(api_key="test-key", base_url=fake.base_url, max_retries=0, timeout=timeout)


def ask(fake: FakeOpenAI, **kwargs):
    return sdk(fake).responses.create(model="gpt-4o-mini", input="Hello", **kwargs)


def test_fixture_points_settings_and_child_env_at_the_server(fake_openai, settings):
    assert fake_openai.base_url == settings.OPENAI_BASE_URL
    assert settings.OPENAI_API_KEY == "test-key"
    assert settings.EVERGREEN_PROVIDER == "openai"
    assert settings.EVERGREEN_RETRY["base_delay"] == 0.01
    assert get_provider().name == "openai"
    env = child_env()
    assert env["OPENAI_BASE_URL"] == fake_openai.base_url
    assert env["RETRY_BASE_DELAY"] == "0.01"


def test_plain_text_reply_carries_usage_and_is_counted(fake_openai):
    response = ask(fake_openai, instructions="Be brief.")
    assert response.status == "completed"
    assert "Hello" in response.output_text
    usage = response.usage
    assert usage.input_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert fake_openai.calls == 1
    assert fake_openai.requests[0]["instructions"] == "Be brief."
    assert fake_openai.requests[0]["input"] == "Hello"


def test_structured_reply_validates_against_the_requested_schema(fake_openai):
    client = sdk(fake_openai)
    first = client.responses.parse(model="gpt-4o-mini", input="Plan a launch", text_format=Level)
    again = client.responses.parse(model="gpt-4o-mini", input="Plan a launch", text_format=Level)
    assert isinstance(first.output_parsed, Level)
    assert 1 <= first.output_parsed.level <= 3
    assert first.output_parsed == again.output_parsed  # deterministic per request
    assert fake_openai.requests[0]["text"]["format"]["type"] == "json_schema"


def test_structured_reply_fills_nested_objects_within_array_bounds(fake_openai):
    response = sdk(fake_openai).responses.parse(
        model="gpt-4o-mini", input="Plan a launch", text_format=Plan
    )
    plan = response.output_parsed
    assert 2 <= len(plan.steps) <= 4
    assert all(1 <= step.effort <= 5 for step in plan.steps)
    assert json.loads(response.output_text) == plan.model_dump()


def test_stream_sends_the_real_event_sequence_with_sequence_numbers(fake_openai):
    client = sdk(fake_openai)
    with client.responses.stream(model="gpt-4o-mini", input="Stream a story") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * len(deltas),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert len(deltas) > 2
    assert "".join(deltas) == final.output_text
    assert final.usage.output_tokens > 0
    assert fake_openai.calls == 1


def test_scripted_faults_are_consumed_in_order_then_requests_succeed(fake_openai):
    fake_openai.fail(500).fail(429, retry_after=2).fail(401)
    with pytest.raises(openai.InternalServerError):
        ask(fake_openai)
    with pytest.raises(openai.RateLimitError) as rate_limited:
        ask(fake_openai)
    assert rate_limited.value.response.headers["Retry-After"] == "2"
    with pytest.raises(openai.AuthenticationError):
        ask(fake_openai)
    assert ask(fake_openai).status == "completed"
    assert fake_openai.calls == 4
    assert fake_openai.pending == 0


def test_fault_with_times_none_repeats_until_reset(fake_openai):
    fake_openai.fail(503, times=None)
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            ask(fake_openai)
    fake_openai.reset()
    assert fake_openai.calls == 0
    assert ask(fake_openai).status == "completed"
    assert fake_openai.calls == 1


def test_unauthorised_message_quotes_only_a_masked_key(fake_openai):
    fake_openai.fail(401)
    client = openai.OpenAI(api_key="sk-secret-abcdef-1234", base_url=fake_openai.base_url)
    with pytest.raises(openai.AuthenticationError) as exc:
        client.with_options(max_retries=0).responses.create(model="m", input="x")
    assert "secret" not in str(exc.value)
    assert "1234" in str(exc.value)


def test_malformed_reply_is_http_200_with_a_body_that_is_not_json(fake_openai):
    fake_openai.malformed()
    response = httpx.post(f"{fake_openai.base_url}/responses", json={"model": "m", "input": "x"})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_reply_sends_the_given_text_even_if_it_breaks_the_schema(fake_openai):
    fake_openai.reply('{"name": 3}')
    raw = sdk(fake_openai).responses.with_raw_response.parse(
        model="gpt-4o-mini", input="x", text_format=Level
    )
    assert raw.http_response.json()["output"][0]["content"][0]["text"] == '{"name": 3}'


def test_delay_outlasts_the_client_timeout(fake_openai):
    fake_openai.delay(1.0)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        sdk(fake_openai, timeout=0.2).responses.create(model="m", input="x")
    assert time.monotonic() - started < 0.9
    assert fake_openai.calls == 1


def test_cut_stream_ends_before_the_response_completes(fake_openai):
    fake_openai.cut(after=2)
    with sdk(fake_openai).responses.stream(model="m", input="Stream a story") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        with pytest.raises(RuntimeError):
            stream.get_final_response()
    assert len(deltas) == 2


def test_serves_slow_requests_from_many_threads_at_once(fake_openai):
    fake_openai.delay(0.4, times=None)
    errors = []

    def call() -> None:
        try:
            ask(fake_openai)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert fake_openai.calls == 8
    assert time.monotonic() - started < 8 * 0.4 / 2  # concurrent, not one after another


def test_serves_two_processes_at_once(fake_openai):
    fake_openai.delay(0.5, times=None)
    code = (
        "import sys, httpx; r = httpx.post(sys.argv[1] + '/responses', "
        "json={'model': 'm', 'input': 'x'}, timeout=10); print(r.json()['status'])"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, fake_openai.base_url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=30)[0].strip() for proc in procs]
    assert outputs == ["completed", "completed"]
    assert fake_openai.calls == 2


def test_stopped_server_refuses_connections():
    fake = FakeOpenAI()
    url = f"{fake.base_url}/responses"
    assert httpx.post(url, json={"model": "m", "input": "x"}).status_code == 200
    fake.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, json={"model": "m", "input": "x"}, timeout=1)


def test_unknown_path_is_a_json_404(fake_openai):
    response = httpx.post(f"{fake_openai.base_url}/chat/completions", json={})
    assert response.status_code == 404
    assert "error" in response.json()
    assert fake_openai.calls == 0
