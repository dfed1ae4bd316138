from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pydantic import BaseModel, Field

from generation.errors import (
    BudgetExceeded,
    GenerationPending,
    PromptMissing,
    ProviderError,
    ProviderUnavailable,
)
from generation.flight import Source, get_or_generate, run_claimed
from generation.flight import revalidate as revalidate_service
from generation.models import Generation, GenerationLog, GenerationStatus, Outcome
from generation.prompts import activate_prompt, new_version_from, rollback_prompt
from generation.schemas import register_schema
from tests.builders import make_company, make_prompt


class Tip(BaseModel):
    title: str = Field(max_length=120)
    priority: int = Field(ge=1, le=5)


register_schema("test-tip", Tip)


def ask(company, topic="onboarding", **kwargs):
    return get_or_generate(
        kind="tip",
        scope=f"company:{company.pk}",
        prompt_key=kwargs.pop("prompt_key", "tip"),
        inputs={"topic": topic},
        company_id=company.pk,
        **kwargs,
    )


@pytest.fixture
def prompt(db):
    return make_prompt(key="tip", output_schema="test-tip")


def test_second_read_is_a_cache_hit_with_no_provider_call(company, prompt, provider):
    first = ask(company)
    second = ask(company)

    assert provider.calls == 1
    assert first.source == Source.GENERATED
    assert second.source == Source.CACHE
    assert second.content == first.content
    assert Tip.model_validate(second.content)
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts, log.provider) == (Outcome.SUCCESS, 1, "offline")


def test_cache_hit_costs_at_most_two_queries_and_no_write(company, prompt, provider):
    from generation.models import HitCounter
    from generation.writebehind import flush_now

    ask(company)
    with CaptureQueriesContext(connection) as read:
        ask(company)
        ask(company)
    assert len(read.captured_queries) <= 4
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in read.captured_queries)
    # The hits wait in memory for the flush.
    flush_now()
    assert sum(HitCounter.objects.values_list("hits", flat=True)) == 2


def test_missing_prompt_is_a_clear_error(company, db, provider):
    with pytest.raises(PromptMissing):
        ask(company, prompt_key="nope")
    assert provider.calls == 0


def test_new_prompt_version_regenerates_once_and_rollback_serves_earlier_content(
    company, prompt, provider
):
    original = ask(company)
    v2 = new_version_from(prompt=prompt, template="Write a better tip about {{ topic }}.")
    activate_prompt(prompt=v2)

    regenerated = ask(company)
    again = ask(company)
    assert provider.calls == 2
    assert regenerated.generation.context_hash != original.generation.context_hash
    assert again.source == Source.CACHE

    rollback_prompt(key="tip")
    rolled_back = ask(company)
    assert provider.calls == 2
    assert rolled_back.source == Source.CACHE
    assert rolled_back.generation.pk == original.generation.pk


def test_model_change_changes_the_hash_and_regenerates_once(company, prompt, provider, settings):
    first = ask(company)
    settings.OPENAI_MODEL = "gpt-4.1-mini"
    second = ask(company)
    third = ask(company)

    assert provider.calls == 2
    assert second.generation.context_hash != first.generation.context_hash
    assert second.generation.model == "offline"  # the provider's own model label
    assert third.source == Source.CACHE


def test_a_real_provider_replaces_offline_content_on_the_next_read(
    company, prompt, provider, settings
):
    offline = ask(company)
    settings.EVERGREEN_PROVIDER = "openai"  # a key was set: the provider is part of the key
    real = ask(company)
    again = ask(company)

    assert provider.calls == 2
    assert real.generation.context_hash != offline.generation.context_hash
    assert again.source == Source.CACHE


def test_budget_spent_makes_no_call_and_still_serves_cached_content(prompt, provider):
    company = make_company(daily_token_budget=1)
    cached = ask(company, topic="cached")
    assert provider.calls == 1  # the first call spends the whole budget

    assert ask(company, topic="cached").source == Source.CACHE
    fallback = ask(company, topic="new topic")
    assert fallback.source == Source.FALLBACK
    assert fallback.generation.pk == cached.generation.pk
    assert provider.calls == 1
    assert GenerationLog.objects.filter(outcome=Outcome.BUDGET_EXCEEDED, attempts=0).count() == 1


def test_budget_spent_with_nothing_cached_is_a_budget_error(prompt, provider):
    company = make_company(daily_cost_budget=0)
    with pytest.raises(BudgetExceeded):
        ask(company)
    assert provider.calls == 0
    assert not Generation.objects.filter(status=GenerationStatus.COMPLETED).exists()


def test_a_second_reader_of_a_key_failed_for_budget_gets_the_budget_error_too(prompt, provider):
    company = make_company(daily_cost_budget=0)
    with pytest.raises(BudgetExceeded):
        ask(company)
    # The key is failed and in its cooldown: the next reader is told the same thing.
    with pytest.raises(BudgetExceeded):
        ask(company)
    assert provider.calls == 0


def test_provider_down_with_no_earlier_content_raises_unavailable_and_stores_no_content(
    company, prompt, provider
):
    provider.fail_with = ProviderError("401 Unauthorized", transient=False, status_code=401)
    with pytest.raises(ProviderUnavailable) as info:
        ask(company)

    assert info.value.status_code == 503
    assert provider.calls == 1  # not transient: no retry
    assert not Generation.objects.filter(status=GenerationStatus.COMPLETED).exists()
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts) == (Outcome.FAILED, 1)
    assert "401" in log.error


def test_provider_failure_serves_the_last_good_content(company, prompt, provider):
    good = ask(company, topic="first")
    provider.fail_with = ProviderError("boom", transient=False)

    result = ask(company, topic="second")
    assert result.source == Source.FALLBACK
    assert result.is_stale
    assert result.generation.pk == good.generation.pk
    assert "boom" in result.error


def test_failed_key_is_not_sent_again_during_the_cooldown_then_retried(company, prompt, provider):
    provider.fail_with = ProviderError("down", transient=False)
    with pytest.raises(ProviderUnavailable):
        ask(company)
    with pytest.raises(ProviderUnavailable):
        ask(company)
    assert provider.calls == 1

    Generation.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    provider.fail_with = None
    result = ask(company)
    assert result.source == Source.GENERATED
    assert provider.calls == 2


def test_transient_failures_are_retried_and_attempts_logged(company, prompt, provider, settings):
    settings.EVERGREEN_RETRY = dict(settings.EVERGREEN_RETRY, base_delay=0.001, max_attempts=3)
    provider.fail_with = ProviderError("503", transient=True, status_code=503)
    with pytest.raises(ProviderUnavailable):
        ask(company)
    assert provider.calls == 3
    assert GenerationLog.objects.get().attempts == 3


def test_expired_lease_of_a_dead_worker_is_taken_over(company, prompt, provider):
    key_source = ask(company)  # learn the key the claim would have
    Generation.objects.filter(pk=key_source.generation.pk).update(
        status=GenerationStatus.PENDING,
        owner="dead-worker",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        result=None,
    )
    result = ask(company)
    assert result.source == Source.GENERATED
    assert provider.calls == 2
    result.generation.refresh_from_db()
    assert result.generation.status == GenerationStatus.COMPLETED


def test_live_claim_of_another_caller_makes_a_non_waiting_caller_get_pending(
    company, prompt, provider
):
    first = ask(company)
    Generation.objects.filter(pk=first.generation.pk).update(
        status=GenerationStatus.PENDING,
        owner="someone-else",
        lease_expires_at=timezone.now() + timedelta(minutes=1),
    )
    with pytest.raises(GenerationPending) as info:
        ask(company, wait=False)
    assert info.value.status_code == 202
    assert info.value.generation.pk == first.generation.pk
    assert provider.calls == 1


def test_non_waiting_miss_is_queued_and_the_task_completes_it(
    company, prompt, provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(GenerationPending):
        ask(company, wait=False)
    assert provider.calls == 0
    assert len(callbacks) == 1

    generation = Generation.objects.get()
    run_claimed(generation_id=generation.pk, owner=generation.owner)
    run_claimed(generation_id=generation.pk, owner=generation.owner)  # at-least-once delivery
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.COMPLETED
    assert provider.calls == 1
    assert ask(company).source == Source.CACHE


def test_expired_content_is_served_stale_and_revalidated_once(
    company, prompt, provider, django_capture_on_commit_callbacks
):
    first = ask(company, ttl=timedelta(hours=1))
    Generation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks() as callbacks:
        stale = ask(company, ttl=timedelta(hours=1))
        also_stale = ask(company, ttl=timedelta(hours=1))
    assert stale.source == also_stale.source == Source.STALE
    assert stale.content == first.content
    assert len(callbacks) == 1  # one refresh queued, not one per reader
    assert provider.calls == 1

    generation = Generation.objects.get()
    revalidate_service(generation_id=generation.pk, owner=generation.owner)
    generation.refresh_from_db()
    assert generation.expires_at > timezone.now()
    assert provider.calls == 2
    assert ask(company, ttl=timedelta(hours=1)).source == Source.CACHE


def test_failed_refresh_of_a_streamed_artefact_keeps_serving_the_old_text(
    company, provider, django_capture_on_commit_callbacks
):
    make_prompt(key="story", template="Tell {{ topic }}.")
    first = ask(company, prompt_key="story", stream=True, ttl=timedelta(hours=1))
    Generation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks():
        assert ask(company, prompt_key="story", stream=True).source == Source.STALE
    generation = Generation.objects.get()
    provider.fail_with = ProviderError("down", transient=False)

    revalidate_service(generation_id=generation.pk, owner=generation.owner)

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.COMPLETED
    assert generation.text == first.generation.text
    # Released, but not refreshed again within the failure cooldown.
    assert generation.owner == "" and generation.lease_expires_at > timezone.now()
    with django_capture_on_commit_callbacks() as queued:
        again = ask(company, prompt_key="story", stream=True)
    assert again.source == Source.STALE and again.content == first.content
    assert queued == []


def test_domain_write_failure_rolls_back_the_artefact_but_keeps_the_calls_log(
    company, prompt, provider
):
    def broken(generation):
        raise RuntimeError("domain row invalid")

    with pytest.raises(RuntimeError):
        ask(company, on_result=broken)
    assert Generation.objects.get().status == GenerationStatus.FAILED  # claim released
    assert not Generation.objects.filter(status=GenerationStatus.COMPLETED).exists()
    # The call was made and paid for: budgets and usage see it.
    log = GenerationLog.objects.get(outcome=Outcome.SUCCESS)
    assert log.tokens_in > 0 and log.tokens_out > 0  # and their cost (0 offline)
    assert "result not stored: domain row invalid" in log.error


def test_streamed_generation_writes_ordered_chunks_that_join_to_the_text(company, db, provider):
    make_prompt(key="story", template="Tell {{ topic }}.")
    result = get_or_generate(
        kind="story",
        scope=f"company:{company.pk}",
        prompt_key="story",
        inputs={"topic": "growth"},
        company_id=company.pk,
        stream=True,
    )
    chunks = list(result.generation.chunks.order_by("seq").values_list("seq", "text"))
    assert [seq for seq, _ in chunks] == list(range(len(chunks)))
    assert "".join(text for _, text in chunks) == result.content
    assert result.generation.status == GenerationStatus.COMPLETED


def test_streamed_structured_generation_is_validated_against_its_schema(company, prompt, provider):
    result = ask(company, stream=True)

    assert Tip.model_validate(result.content)
    assert result.generation.chunks.exists()
    assert provider.counts["stream_text"] == 1
