"""The ledger is written before the call: a `started` row is committed before the first
request and counts each request before it is sent; the same row is completed after
the call, with cached input tokens priced at their own rate."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from generation.errors import ProviderError
from generation.flight import Source
from generation.models import GenerationLog, Outcome
from generation.pricing import cost_for
from tests.builders import make_prompt
from tests.generation.builders import ask_tip
from tests.providers import CountingProvider

pytestmark = pytest.mark.django_db(transaction=True)


class LedgerWatcher(CountingProvider):
    """Reads the ledger as each request is sent; the first `failures` requests fail
    (transiently)."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures
        self.seen: list[list[dict]] = []

    def _enter(self, method: str) -> None:
        super()._enter(method)
        self.seen.append(
            list(GenerationLog.objects.values("pk", "outcome", "attempts", "model", "cost"))
        )
        if len(self.seen) <= self.failures:
            raise ProviderError("HTTP 503: try later", transient=True, status_code=503)


@pytest.fixture
def watcher(settings, monkeypatch):
    def install(failures: int = 0) -> LedgerWatcher:
        settings.EVERGREEN_PROVIDER = "offline"
        settings.EVERGREEN_RETRY = {**settings.EVERGREEN_RETRY, "base_delay": 0.001}
        provider = LedgerWatcher(failures)
        monkeypatch.setattr("generation.flight.get_provider", lambda name=None: provider)
        return provider

    return install


@pytest.fixture
def prompt(db):
    return make_prompt(key="tip", model="gpt-4o-mini")


def test_the_row_is_committed_started_before_the_call_and_completed_after_it(
    company, prompt, watcher
):
    provider = watcher()

    result = ask_tip(company, origin="test:ledger")

    assert result.source == Source.GENERATED
    assert provider.calls == 1
    [before] = provider.seen
    [row] = before
    assert (row["outcome"], row["attempts"], row["model"]) == (Outcome.STARTED, 1, "gpt-4o-mini")
    log = GenerationLog.objects.get()
    assert log.pk == row["pk"]  # completed in place, not a second row
    # What the started row was charged: the prompt's estimated tokens at the input price.
    assert row["cost"] == cost_for(
        model="gpt-4o-mini", tokens_in=log.tokens_in_estimated, tokens_out=0
    )
    assert row["cost"] > 0
    assert (log.outcome, log.attempts, log.provider, log.origin) == (
        Outcome.SUCCESS,
        1,
        "offline",
        "test:ledger",
    )
    assert log.tokens_in > 0 and log.tokens_out > 0
    assert log.cost == 0  # the offline provider's model is free


def test_every_retry_is_on_the_ledger_before_it_is_sent(company, prompt, watcher):
    provider = watcher(failures=2)

    ask_tip(company, origin="test:ledger")

    assert provider.calls == 3
    assert [[r["attempts"] for r in rows] for rows in provider.seen] == [[1], [2], [3]]
    log = GenerationLog.objects.get()
    assert (log.outcome, log.attempts) == (Outcome.SUCCESS, 3)


def test_cached_input_tokens_are_recorded_and_priced_at_their_own_rate(
    company, prompt, fake_openai
):
    fake_openai.cached_tokens = 5

    ask_tip(company, origin="test:ledger")

    log = GenerationLog.objects.get()
    assert log.tokens_cached == 5
    assert log.tokens_in > 5
    fresh = Decimal(log.tokens_in - 5)
    expected = Decimal("0.15") * fresh + Decimal("0.075") * 5 + Decimal("0.60") * log.tokens_out
    assert log.cost == (expected / 1_000_000).quantize(Decimal("0.000001"))


def test_the_ledger_counts_every_request_the_provider_received(company, prompt, fake_openai):
    fake_openai.fail(500).fail(429)
    for topic in ("a", "b", "c"):
        ask_tip(company, topic, origin="test:ledger")

    assert GenerationLog.objects.count() == 3
    assert GenerationLog.objects.aggregate(n=Sum("attempts"))["n"] == fake_openai.calls == 5


@pytest.mark.parametrize(
    ("model", "cached_price"),
    [
        ("gpt-4o-mini", Decimal("0.075")),
        ("gpt-4o-mini-2024-07-18", Decimal("0.075")),  # a dated version: its base price
        ("gpt-4.1", Decimal("0.50")),
    ],
)
def test_a_million_cached_tokens_cost_the_models_cached_price(model, cached_price):
    assert cost_for(model=model, tokens_in=10**6, tokens_out=0, tokens_cached=10**6) == cached_price


def test_a_model_without_a_cached_price_charges_half_its_input_price(settings):
    settings.EVERGREEN_MODEL_PRICES = {"house-model": (Decimal("1.00"), Decimal("2.00"))}

    cost = cost_for(model="house-model", tokens_in=2 * 10**6, tokens_out=0, tokens_cached=10**6)

    assert cost == Decimal("1.50")
