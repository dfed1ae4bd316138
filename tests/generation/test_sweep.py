"""Nothing stays claimed: the sweep closes every claim whose owner died, whatever its
key, closes its calls of unknown outcome on the ledger (counted in usage), and the
next reader takes an interrupted claim over at once."""

import importlib
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone
from django_q.models import Schedule

from generation import tasks
from generation.flight import Source
from generation.models import Generation, GenerationLog, GenerationStatus, Outcome
from generation.public import MESSAGES
from generation.selectors import usage_report
from generation.sweep import sweep_claims
from tests.builders import make_prompt
from tests.generation.builders import ask_tip, make_claim, make_started_call

pytestmark = pytest.mark.django_db

LEASE = 70  # EVERGREEN_LEASE_SECONDS under test


@pytest.fixture
def prompt(settings):
    settings.EVERGREEN_LEASE_SECONDS = LEASE
    return make_prompt(key="tip")


def test_the_sweep_closes_dead_claims_and_their_calls_and_leaves_live_ones(company, prompt, api):
    dead = make_claim(prompt=prompt, company=company, inputs={"topic": "dead"})
    dead_call = make_started_call(generation=dead, age=5)
    streaming = make_claim(
        prompt=prompt, company=company, inputs={"topic": "cut"}, status="streaming"
    )
    live = make_claim(prompt=prompt, company=company, inputs={"topic": "live"}, lease_left=60)
    live_call = make_started_call(generation=live, age=5)
    # A caller whose claim was taken over long ago left its call behind.
    old_call = make_started_call(generation=live, age=LEASE + 1)
    refreshed = make_claim(
        prompt=prompt, company=company, inputs={"topic": "old"}, status="completed"
    )

    report = sweep_claims()

    assert report.as_dict() == {
        "claims_interrupted": 2,
        "refreshes_released": 1,
        "calls_closed_unknown": 2,
    }
    for claim in (dead, streaming):
        claim.refresh_from_db()
        assert (claim.status, claim.error_code, claim.owner) == ("failed", "interrupted", "")
        assert claim.lease_expires_at is None
    live.refresh_from_db()
    assert (live.status, live.owner) == ("pending", "host:1:1:dead")
    refreshed.refresh_from_db()
    assert (refreshed.status, refreshed.owner, refreshed.lease_expires_at) == (
        "completed",
        "",
        None,
    )
    calls = {c.pk: c for c in GenerationLog.objects.all()}
    assert calls[dead_call.pk].outcome == calls[old_call.pk].outcome == Outcome.UNKNOWN
    assert calls[dead_call.pk].cost == dead_call.cost > 0  # its estimated cost stands
    assert calls[live_call.pk].outcome == Outcome.STARTED
    body = api.get(f"/api/generations/{dead.pk}/").json()
    assert body["error"] == MESSAGES["interrupted"]
    assert sweep_claims().as_dict() == {
        "claims_interrupted": 0,
        "refreshes_released": 0,
        "calls_closed_unknown": 0,
    }


def test_an_interrupted_claim_is_taken_over_by_the_next_reader_at_once(company, prompt, provider):
    make_claim(prompt=prompt, company=company, inputs={"topic": "dead"})
    sweep_claims()

    result = ask_tip(company, "dead")

    assert result.source == Source.GENERATED
    assert provider.calls == 1
    assert Generation.objects.get().status == GenerationStatus.COMPLETED


def test_usage_counts_unknown_calls_and_leaves_calls_in_flight_out(company, prompt):
    dead = make_claim(prompt=prompt, company=company, inputs={"topic": "dead"})
    make_started_call(generation=dead, age=LEASE + 1, attempts=2)
    live = make_claim(prompt=prompt, company=company, inputs={"topic": "live"}, lease_left=60)
    make_started_call(generation=live, age=1)
    today = timezone.localdate()

    before = usage_report(company_ids=[company.pk], since=today, until=today)["totals"]
    sweep_claims()
    after = usage_report(company_ids=[company.pk], since=today, until=today)["totals"]

    assert (before["provider_calls"], before["generations"], before["cost"]) == (0, 0, 0)
    assert after["provider_calls"] == 2
    assert after["generations"] == 1
    assert after["success_rate"] == 0.0
    assert after["cost"] == GenerationLog.objects.get(outcome=Outcome.UNKNOWN).cost > Decimal(0)


@pytest.mark.django_db(transaction=True)
def test_a_waiter_takes_a_dead_owners_claim_over_when_its_lease_ends(company, settings, provider):
    settings.EVERGREEN_WAIT_SECONDS = 30
    prompt = make_prompt(key="tip")
    make_claim(prompt=prompt, company=company, inputs={"topic": "slow"}, lease_left=1.0)

    started = time.monotonic()
    result = ask_tip(company, "slow")

    assert result.source == Source.GENERATED
    assert provider.calls == 1
    assert time.monotonic() - started < 5  # the lease's end, not the 30 s wait


def test_the_sweep_is_scheduled_every_minute_and_registering_again_changes_nothing():
    migration = importlib.import_module("generation.migrations.0009_claim_sweep_schedule")
    migration.register(apps, None)
    migration.register(apps, None)

    schedule = Schedule.objects.get(name="maintenance: generation claim sweep")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "generation.tasks.close_expired_claims",
        Schedule.MINUTES,
        1,
        -1,
    )
    assert tasks.close_expired_claims() == {
        "claims_interrupted": 0,
        "refreshes_released": 0,
        "calls_closed_unknown": 0,
    }


def test_a_started_call_younger_than_the_lease_is_not_closed(company, prompt):
    live = make_claim(prompt=prompt, company=company, inputs={"topic": "a"}, lease_left=60)
    make_started_call(generation=live, age=LEASE - 5)

    sweep_claims(now=timezone.now())
    assert GenerationLog.objects.get().outcome == Outcome.STARTED
    sweep_claims(now=timezone.now() + timedelta(seconds=10))
    assert GenerationLog.objects.get().outcome == Outcome.UNKNOWN
