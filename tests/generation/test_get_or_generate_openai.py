"""get_or_generate() end to end through the real openai provider and the fake server.

Every provider call here is a real HTTP request to tests/fake_openai; counts are
the server's own (`fake_openai.calls`).
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from pydantic import BaseModel, Field

from generation.errors import ProviderUnavailable
from generation.flight import Source, get_or_generate
from generation.models import Chunk, Generation, GenerationLog, GenerationStatus, Outcome
from generation.schemas import register_schema
from tests.builders import make_prompt


class Advice(BaseModel):
    headline: str
    steps: list[str] = Field(min_length=1, max_length=3)
    effort: int = Field(ge=1, le=5)


register_schema("test-openai-advice", Advice)

KIND = "advice"


def generate(company, *, inputs=None, stream=False, prompt_key="advice-prompt"):
    return get_or_generate(
        kind=KIND,
        scope=f"company:{company.pk}",
        prompt_key=prompt_key,
        inputs=inputs or {"topic": "customer onboarding"},
        company_id=company.pk,
        stream=stream,
    )


@pytest.fixture
def text_prompt(db):
    return make_prompt(key="advice-prompt", template="Advise on {{ topic }}.")


@pytest.fixture
def structured_prompt(db):
    return make_prompt(
        key="advice-prompt", template="Advise on {{ topic }}.", output_schema="test-openai-advice"
    )


def test_rate_limit_with_retry_after_then_success_is_one_artefact_logged_with_two_attempts(
    fake_openai, company, text_prompt
):
    fake_openai.fail(429, retry_after=1)
    started = time.monotonic()
    result = generate(company)
    elapsed = time.monotonic() - started

    assert result.source == Source.GENERATED
    assert result.content == fake_openai.output_text(fake_openai.requests[-1])
    assert fake_openai.calls == 2
    assert elapsed >= 1.0  # the Retry-After wait, not the 0.01 s backoff
    assert Generation.objects.filter(status=GenerationStatus.COMPLETED).count() == 1
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts, log.provider) == ("success", 2, "openai")
    assert log.tokens_in > 0
    assert log.tokens_out > 0


def test_second_read_is_served_from_the_database_without_a_call(fake_openai, company, text_prompt):
    first = generate(company)
    second = generate(company)
    assert second.source == Source.CACHE
    assert second.content == first.content
    assert fake_openai.calls == 1


def test_unauthorised_is_not_retried_and_serves_the_earlier_content_as_fallback(
    fake_openai, company, text_prompt
):
    earlier = generate(company)
    # A new prompt version changes the key: the earlier content is no longer a hit.
    make_prompt(key="advice-prompt", template="Advise briefly on {{ topic }}.")
    fake_openai.reset()
    fake_openai.fail(401)

    result = generate(company)

    assert fake_openai.calls == 1  # no retry
    assert result.source == Source.FALLBACK
    assert result.generation.pk == earlier.generation.pk
    assert result.content == earlier.content
    assert "401" in result.error
    failed = GenerationLog.objects.exclude(outcome="success").get()
    assert (failed.outcome, failed.attempts) == ("failed", 1)
    assert "test-key" not in failed.error


def test_unauthorised_with_other_inputs_falls_back_to_the_same_scopes_content(
    fake_openai, company, text_prompt
):
    earlier = generate(company, inputs={"topic": "pricing"})
    fake_openai.fail(401)
    result = generate(company, inputs={"topic": "hiring"})
    assert result.source == Source.FALLBACK
    assert result.content == earlier.content
    assert fake_openai.calls == 2


def test_provider_down_without_earlier_content_raises_503_and_completes_nothing(
    fake_openai, company, text_prompt, settings
):
    fake_openai.fail(500, times=None)
    max_attempts = settings.EVERGREEN_RETRY["max_attempts"]

    with pytest.raises(ProviderUnavailable) as exc:
        generate(company)

    assert exc.value.status_code == 503
    assert fake_openai.calls == max_attempts
    assert not Generation.objects.filter(status=GenerationStatus.COMPLETED).exists()
    assert Generation.objects.get().result is None
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts) == ("failed", max_attempts)
    assert log.tokens_in == log.tokens_out == 0


def test_slow_provider_past_the_request_timeout_is_logged_as_timeout(
    fake_openai, company, text_prompt, settings
):
    settings.EVERGREEN_RETRY = {
        **settings.EVERGREEN_RETRY,
        "request_timeout": 0.3,
        "max_attempts": 2,
    }
    fake_openai.delay(1.5, times=None)
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable):
        generate(company)

    assert time.monotonic() - started < 1.5  # the client gave up, it did not wait
    assert fake_openai.calls == 2
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts) == ("timeout", 2)


def test_structured_reply_is_stored_as_the_validated_object(
    fake_openai, company, structured_prompt
):
    result = generate(company)
    assert Advice.model_validate(result.content).model_dump(mode="json") == result.content
    assert fake_openai.requests[0]["text"]["format"]["type"] == "json_schema"
    assert GenerationLog.objects.get().outcome == "success"


def test_structured_reply_failing_its_schema_twice_is_invalid_output_with_the_raw_text(
    fake_openai, company, structured_prompt
):
    bad = '{"headline": "Do it", "steps": [], "effort": 9}'
    fake_openai.reply(bad, times=None)

    with pytest.raises(ProviderUnavailable):
        generate(company)

    assert fake_openai.calls == 2  # one more try for a schema failure, not more
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts) == ("invalid_output", 2)
    assert log.raw_output == bad
    assert not Generation.objects.filter(status=GenerationStatus.COMPLETED).exists()


def test_structured_reply_failing_once_succeeds_on_the_second_try(
    fake_openai, company, structured_prompt
):
    fake_openai.reply("not json")
    result = generate(company)
    assert result.source == Source.GENERATED
    assert Advice.model_validate(result.content)
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts, log.raw_output) == ("success", 2, "")


def test_streaming_writes_ordered_chunks_that_join_to_the_final_text(
    fake_openai, company, text_prompt, monkeypatch
):
    # Flush every delta, so the chunk order is really exercised.
    monkeypatch.setattr("generation.streams.STREAM_FLUSH_SECONDS", 0)

    result = generate(company, stream=True)

    generation = result.generation
    chunks = list(Chunk.objects.filter(generation=generation).order_by("seq"))
    expected = fake_openai.output_text(fake_openai.requests[0])
    assert fake_openai.requests[0]["stream"] is True
    assert len(chunks) > 2
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert "".join(c.text for c in chunks) == expected
    assert generation.text == expected
    assert generation.status == GenerationStatus.COMPLETED
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts) == ("success", 1)
    assert log.tokens_out > 0


def test_stream_cut_midway_is_retried_and_the_chunks_start_again(
    fake_openai, company, text_prompt, monkeypatch
):
    monkeypatch.setattr("generation.streams.STREAM_FLUSH_SECONDS", 0)
    fake_openai.cut(after=3)

    result = generate(company, stream=True)

    chunks = Chunk.objects.filter(generation=result.generation).order_by("seq")
    assert "".join(c.text for c in chunks) == result.generation.text
    assert result.generation.text == fake_openai.output_text(fake_openai.requests[-1])
    assert fake_openai.calls == 2
    assert GenerationLog.objects.get().attempts == 2


def test_taking_over_a_failed_stream_starts_its_chunks_again(
    fake_openai, company, text_prompt, monkeypatch
):
    monkeypatch.setattr("generation.streams.STREAM_FLUSH_SECONDS", 0)
    fake_openai.cut(after=3, times=None)
    with pytest.raises(ProviderUnavailable):
        generate(company, stream=True)
    assert Chunk.objects.exists()  # the last cut attempt left its partial chunks
    # Past the failure cooldown, the next caller takes the key over.
    Generation.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    fake_openai.reset()

    result = generate(company, stream=True)

    chunks = Chunk.objects.filter(generation=result.generation).order_by("seq")
    assert result.source == Source.GENERATED
    assert "".join(c.text for c in chunks) == result.generation.text


def test_streamed_structured_reply_is_validated_and_stored(fake_openai, company, structured_prompt):
    result = generate(company, stream=True, prompt_key=structured_prompt.key)

    assert result.source == Source.GENERATED
    assert isinstance(result.content, dict) and result.content
    assert fake_openai.requests[-1]["text"]["format"]["type"] == "json_schema"
    assert result.generation.chunks.exists()


def test_streamed_reply_failing_its_schema_is_invalid_output(
    fake_openai, company, structured_prompt
):
    fake_openai.reply("this is not json", times=None)
    with pytest.raises(ProviderUnavailable):
        generate(company, stream=True, prompt_key=structured_prompt.key)

    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts) == (Outcome.INVALID_OUTPUT, 2)
    assert log.raw_output == "this is not json"
