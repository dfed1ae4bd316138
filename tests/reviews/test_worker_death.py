"""A worker killed with SIGKILL mid-run: after its lease the run is taken over and ends
completed or failed, never stuck running, with no duplicate reviews."""

import os
import signal
import time

import pytest
from django.db.models import Count

from reviews import services
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
