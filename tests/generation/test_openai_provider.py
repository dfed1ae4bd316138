"""The openai provider against the fake server: real HTTP through the official SDK."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pydantic import BaseModel, Field

from generation.errors import InvalidOutput, ProviderError
from generation.providers import ProviderRequest, ProviderResult, get_provider
from generation.providers.openai import OpenAIProvider, retry_after_seconds
from tests.processes import free_port


class Verdict(BaseModel):
    title: str
    score: int = Field(ge=0, le=10)
    reasons: list[str] = Field(min_length=1, max_length=3)


def request(**changes) -> ProviderRequest:
    fields = {
        "instructions": "You are concise.",
        "input": "Write about onboarding.",
        "model": "gpt-4o-mini",
        "timeout": 2.0,
    }
    fields.update(changes)
    return ProviderRequest(**fields)


@pytest.fixture
def openai_provider(fake_openai) -> OpenAIProvider:
    built = get_provider()
    assert isinstance(built, OpenAIProvider)
    return built


def stream_all(openai_provider, req) -> tuple[list[str], ProviderResult]:
    events = list(openai_provider.stream_text(req))
    *deltas, final = events
    assert all(isinstance(d, str) for d in deltas)
    assert isinstance(final, ProviderResult)
    return deltas, final


def fault(openai_provider, method: str):
    """Run one call that is expected to fail and return the ProviderError."""
    with pytest.raises(ProviderError) as exc:
        if method == "text":
            openai_provider.generate_text(request())
        elif method == "structured":
            openai_provider.generate_structured(request(), Verdict)
        else:
            stream_all(openai_provider, request())
    return exc.value


# --- success ------------------------------------------------------------------------------


def test_text_call_returns_the_reply_with_its_usage(openai_provider, fake_openai):
    result = openai_provider.generate_text(request())
    assert result.text == fake_openai.output_text(fake_openai.requests[0])
    assert result.model == "gpt-4o-mini"
    assert result.tokens_in > 0
    assert result.tokens_out > 0
    assert result.parsed is None
    sent = fake_openai.requests[0]
    assert (sent["instructions"], sent["input"]) == ("You are concise.", "Write about onboarding.")


def test_temperature_is_sent_only_when_the_prompt_sets_one(openai_provider, fake_openai):
    openai_provider.generate_text(request())
    openai_provider.generate_text(request(temperature=0.2))
    assert "temperature" not in fake_openai.requests[0]
    assert fake_openai.requests[1]["temperature"] == 0.2


def test_structured_call_returns_the_validated_object_as_json_data(openai_provider, fake_openai):
    result = openai_provider.generate_structured(request(), Verdict)
    assert Verdict.model_validate(result.parsed).model_dump(mode="json") == result.parsed
    assert json.loads(result.text) == result.parsed
    assert result.tokens_out > 0
    assert fake_openai.requests[0]["text"]["format"]["type"] == "json_schema"


def test_stream_yields_deltas_then_one_final_result_with_usage(openai_provider, fake_openai):
    deltas, final = stream_all(openai_provider, request())
    assert len(deltas) > 2
    assert "".join(deltas) == final.text
    assert final.text == fake_openai.output_text(fake_openai.requests[0])
    assert final.tokens_in > 0
    assert final.tokens_out > 0
    assert fake_openai.requests[0]["stream"] is True


# --- invalid output -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    ['{"title": "t", "score": 99, "reasons": ["r"]}', '{"title": "t"}', "not json at all"],
    ids=["out-of-range", "missing-fields", "not-json"],
)
def test_reply_that_breaks_the_schema_is_invalid_output_with_its_raw_text(
    openai_provider, fake_openai, reply
):
    fake_openai.reply(reply)
    with pytest.raises(InvalidOutput) as exc:
        openai_provider.generate_structured(request(), Verdict)
    assert exc.value.outcome == "invalid_output"
    assert exc.value.raw_text == reply
    assert exc.value.transient is False
    assert fake_openai.calls == 1


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["text", "structured", "stream"])
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_retryable_status_is_a_transient_failure_after_one_request(
    openai_provider, fake_openai, method, status
):
    fake_openai.fail(status)
    error = fault(openai_provider, method)
    assert error.transient is True
    assert error.outcome == "failed"
    assert error.status_code == status
    assert error.retry_after is None
    assert fake_openai.calls == 1  # the SDK's own retries are off


@pytest.mark.parametrize("method", ["text", "structured", "stream"])
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_request_error_is_not_transient(openai_provider, fake_openai, method, status):
    fake_openai.fail(status)
    error = fault(openai_provider, method)
    assert error.transient is False
    assert error.status_code == status
    assert fake_openai.calls == 1


@pytest.mark.parametrize("method", ["text", "structured", "stream"])
def test_rate_limit_carries_the_retry_after_seconds(openai_provider, fake_openai, method):
    fake_openai.fail(429, retry_after=3)
    error = fault(openai_provider, method)
    assert error.transient is True
    assert error.retry_after == 3.0


@pytest.mark.parametrize("method", ["text", "structured", "stream"])
def test_slow_reply_is_a_transient_timeout(openai_provider, fake_openai, method):
    fake_openai.delay(1.0)
    with pytest.raises(ProviderError) as exc:
        if method == "text":
            openai_provider.generate_text(request(timeout=0.2))
        elif method == "structured":
            openai_provider.generate_structured(request(timeout=0.2), Verdict)
        else:
            stream_all(openai_provider, request(timeout=0.2))
    assert exc.value.transient is True
    assert exc.value.outcome == "timeout"
    assert fake_openai.calls == 1


@pytest.mark.parametrize("method", ["text", "structured", "stream"])
def test_malformed_body_is_a_transient_failure_not_invalid_output(
    openai_provider, fake_openai, method
):
    fake_openai.malformed()
    error = fault(openai_provider, method)
    assert not isinstance(error, InvalidOutput)
    assert error.transient is True
    assert error.outcome == "failed"


def test_stream_cut_before_completion_is_a_transient_failure(openai_provider, fake_openai):
    fake_openai.cut(after=2)
    error = fault(openai_provider, "stream")
    assert error.transient is True
    assert error.outcome == "failed"


@pytest.mark.parametrize("method", ["text", "structured", "stream"])
def test_unreachable_server_is_a_transient_failure(method):
    unreachable = OpenAIProvider(api_key="k", base_url=f"http://127.0.0.1:{free_port()}/v1")
    error = fault(unreachable, method)
    assert error.transient is True
    assert error.outcome == "failed"


def test_error_message_is_short_and_never_carries_the_api_key(fake_openai):
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    keyed = OpenAIProvider(api_key=key, base_url=fake_openai.base_url, timeout=2)
    fake_openai.fail(401)
    error = fault(keyed, "text")
    assert error.transient is False
    assert "HTTP 401" in str(error)
    assert key not in str(error)
    assert "abcdef" not in str(error)
    assert "6789" not in str(error)  # not even the masked tail the API quotes back
    assert len(str(error)) <= 300


# --- Retry-After parsing --------------------------------------------------------------------


def test_retry_after_is_read_as_seconds_milliseconds_or_an_http_date():
    in_ten = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert 8 <= retry_after_seconds(httpx.Headers({"Retry-After": in_ten})) <= 10
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None
