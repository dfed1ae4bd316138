"""A worker killed with SIGKILL mid-run: after its lease the run is taken over and ends
completed or failed, never stuck running, with no duplicate reviews."""

import os
import signal
import time

import pytest
from django.db.models import Count, Sum

from generation import tasks as generation_tasks
from generation.models import IN_PROGRESS, Generation, GenerationLog, Outcome
from reviews import services, tasks
from reviews.lifecycle import EventType, RunStatus
from reviews.models import PersonaReview, Run, RunEvent
from tests.processes import qcluster, wait_until
from tests.reviews.builders import start_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE = 3
CLUSTER_ENV = {
    "REVIEWS_LEASE_SECONDS": str(LEASE),
    "GENERATION_LEASE_SECONDS": str(LEASE),
    "Q_TIMEOUT": "60",
    "Q_RETRY": "65",
    "Q_WORKERS": "1",
}


def test_a_run_whose_worker_was_killed_ends_after_the_lease_without_duplicates(
    member, fake_openai, capsys
):
    # The expand call answers at once; every review call takes 1.5 s, so the worker
    # is killed while all five are in flight.
    fake_openai.delay(0).delay(1.5, times=None)
    run = start_run(member=member, idea="Nightly data export")

    with qcluster(**CLUSTER_ENV) as first:
        wait_until(
            lambda: (
                RunEvent.objects.filter(run=run, type=EventType.PROPOSAL_STORED).exists()
                and fake_openai.calls >= 3
            ),
            timeout=60,
            message="the first worker did not reach the review step",
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    killed_at = time.monotonic()
    calls_before = fake_openai.calls
    reviews_before = PersonaReview.objects.filter(run=run).count()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING  # stranded: nobody works on it any more
    fake_openai.reset()  # normal answers from now on

    with qcluster(**CLUSTER_ENV):
        # What the every-minute schedule does, without waiting a minute for it.
        wait_until(lambda: services.recover_runs(), timeout=LEASE + 10, interval=0.5)
        wait_until(
            lambda: Run.objects.get(pk=run.pk).status != RunStatus.RUNNING,
            timeout=90,
            message="the run stayed running",
        )
    recovered_after = time.monotonic() - killed_at

    run.refresh_from_db()
    assert run.status in (RunStatus.COMPLETED, RunStatus.FAILED)
    assert run.recoveries == 1
    per_persona = PersonaReview.objects.filter(run=run).values("persona").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in per_persona)
    if run.status == RunStatus.COMPLETED:
        assert PersonaReview.objects.filter(run=run).count() == 5
    started = RunEvent.objects.filter(run=run, type=EventType.RUN_STARTED).count()
    assert started == 2
    with capsys.disabled():
        print(
            f"\nSIGKILL: run {run.status} {recovered_after:.1f} s after the kill; "
            f"{reviews_before} reviews stored before it, {calls_before} calls before, "
            f"{fake_openai.calls} after; provider_calls recorded {run.provider_calls}"
        )


def test_after_the_cluster_dies_the_sweep_leaves_nothing_claimed_and_every_call_on_record(
    member, fake_openai, settings, capsys
):
    settings.EVERGREEN_LEASE_SECONDS = LEASE
    # The proposal comes at once; every review takes 3 s, so all five are in flight
    # at the provider when the whole cluster is killed.
    fake_openai.delay(0).delay(3, times=None)
    run = start_run(member=member, idea="Quarterly planning board")

    with qcluster(**CLUSTER_ENV) as cluster:
        wait_until(
            lambda: fake_openai.calls >= 6,
            timeout=60,
            message="the reviews did not all reach the provider",
        )
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(timeout=10)
    calls_before = fake_openai.calls
    left_claimed = Generation.objects.filter(status__in=IN_PROGRESS).count()
    left_started = GenerationLog.objects.filter(outcome=Outcome.STARTED).count()
    fake_openai.reset()  # normal answers from now on

    time.sleep(LEASE + 0.5)  # every lease the dead cluster held has run out
    swept = generation_tasks.close_expired_claims()
    requeued = tasks.recover_runs()

    assert swept["claims_interrupted"] == left_claimed == 5
    assert swept["calls_closed_unknown"] == left_started == 5
    assert requeued == [str(run.pk)]
    assert not Generation.objects.filter(status__in=IN_PROGRESS).exists()
    assert not GenerationLog.objects.filter(outcome=Outcome.STARTED).exists()

    with qcluster(**CLUSTER_ENV):
        wait_until(
            lambda: Run.objects.get(pk=run.pk).status != RunStatus.RUNNING,
            timeout=90,
            message="the run stayed running",
        )

    run.refresh_from_db()
    calls = calls_before + fake_openai.calls
    on_ledger = GenerationLog.objects.aggregate(n=Sum("attempts"))["n"]
    assert run.status == RunStatus.COMPLETED
    assert GenerationLog.objects.count() == on_ledger == calls == 1 + 5 + 5
    assert GenerationLog.objects.filter(outcome=Outcome.UNKNOWN).count() == 5
    assert run.provider_calls == calls
    assert not Generation.objects.filter(status__in=IN_PROGRESS).exists()
    assert not Run.objects.filter(status=RunStatus.RUNNING).exists()
    with capsys.disabled():
        print(
            f"\ncluster killed: {calls} provider calls, {GenerationLog.objects.count()} ledger "
            f"rows ({left_started} closed as unknown by the sweep), run provider_calls "
            f"{run.provider_calls}"
        )
