"""Host a dies (SIGKILL to its web server and its cluster) in the middle of a generation
and of a review run: host b finishes both within one lease, and nothing is made twice."""

import contextlib
import threading
import time

import httpx
import pytest
from django.db.models import Count
from rest_framework.authtoken.models import Token

from generation.models import Generation, GenerationLog, GenerationStatus, Outcome
from recommendations.models import HealthSummary
from reviews.lifecycle import EventType, RunStatus
from reviews.models import PersonaReview, Run, RunEvent
from tests.builders import make_company, make_member
from tests.cluster.conftest import GENERATION_LEASE, REVIEWS_LEASE
from tests.processes import wait_until
from tests.recommendations.builders import make_journey

pytestmark = [pytest.mark.slow]

# What the every-minute schedule `reviews: recover runs` does, run once on host b
# (its broker) as soon as there is a run to recover, without waiting for the minute.
RECOVER = """
import time
from reviews.services import recover_runs
deadline = time.monotonic() + 40
while not recover_runs() and time.monotonic() < deadline:
    time.sleep(0.5)
"""
SWEEP = """
from generation.sweep import sweep_claims
print(sweep_claims().as_dict())
"""


def test_host_a_killed_mid_generation_and_mid_run_host_b_finishes_both_within_a_lease(
    hosts, fake_provider
):
    company = make_company()
    member = make_member(company=company, role="editor")
    token = Token.objects.create(user=member.user).key
    auth = {"Authorization": f"Token {token}"}
    make_journey(domains=2, steps=3)
    a, b = hosts.hosts["a"], hosts.hosts["b"]
    # Only host a's cluster runs, so host a is the one working on the run.
    b.stop_cluster()
    fake_provider.pace(0.3)  # streamed answers are slow: host a dies in the middle

    threading.Thread(
        target=lambda: _quietly(httpx.get, f"{a.url}/api/companies/{company.pk}/health/", auth),
        daemon=True,
    ).start()
    posted = httpx.post(
        f"{a.url}/api/reviews/runs/", json={"idea": "Nightly exports"}, headers=auth, timeout=30
    )
    assert posted.status_code == 202, posted.text
    run_id = posted.json()["id"]
    # Both calls have reached the model and both answers have begun to arrive.
    wait_until(
        lambda: (
            fake_provider.calls >= 2
            and Generation.objects.filter(
                company=company, kind="health_summary", status=GenerationStatus.STREAMING
            )
            .exclude(text="")
            .exists()
            and RunEvent.objects.filter(run_id=run_id, type=EventType.PROPOSAL_TEXT).exists()
        ),
        timeout=60,
        message=f"host a did not start both\n{hosts.logs()}",
    )
    a.kill()
    killed_at = time.monotonic()
    calls_at_kill = fake_provider.calls
    fake_provider.pace(0.02)
    run = Run.objects.get(pk=run_id)
    assert run.status == RunStatus.RUNNING and run.worker, run.worker

    b.start_cluster()
    # A reader on host b waits for the dead owner's claim and takes it over.
    read = httpx.get(f"{b.url}/api/companies/{company.pk}/health/", headers=auth, timeout=60)
    health_done = time.monotonic() - killed_at
    recovered = b.manage("shell", "-c", RECOVER)
    assert recovered.returncode == 0, recovered.stderr
    wait_until(
        lambda: Run.objects.get(pk=run_id).status != RunStatus.RUNNING,
        timeout=REVIEWS_LEASE + 60,
        message=f"host b did not finish the run\n{hosts.logs()}",
    )
    run_done = time.monotonic() - killed_at
    # The every-minute claim sweep, run once on host b: host a's two calls, whose
    # outcome nobody knows, are closed on the ledger.
    swept = b.manage("shell", "-c", SWEEP)
    assert swept.returncode == 0, swept.stderr

    run.refresh_from_db()
    logs = GenerationLog.objects.all()
    made = Generation.objects.filter(status=GenerationStatus.COMPLETED)
    context = (
        f"calls at the kill {calls_at_kill}, in all {fake_provider.calls}; ledger "
        f"{list(logs.values_list('kind', 'outcome'))}; health after {health_done:.1f}s, "
        f"run after {run_done:.1f}s; run {run.status} {run.error}\n{hosts.logs()}"
    )
    print(f"\nhost a killed: {context.splitlines()[0]}")
    assert read.status_code == 200, context
    assert run.status == RunStatus.COMPLETED, context
    # Within one lease (plus the time to make the content again).
    assert health_done <= GENERATION_LEASE + 10, context
    assert run_done <= REVIEWS_LEASE + GENERATION_LEASE + 30, context
    # Nothing made twice: host a's two calls in flight (the summary and the proposal)
    # and, from host b, one call per artefact: the summary, the proposal, 5 reviews.
    assert calls_at_kill == 2, context
    assert fake_provider.calls == calls_at_kill + 7, context
    assert logs.count() == fake_provider.calls, context  # every call is on the ledger
    successes = logs.filter(outcome=Outcome.SUCCESS)
    assert successes.count() == made.count() == 7, context
    assert not successes.values("generation").annotate(n=Count("id")).filter(n__gt=1), context
    assert logs.filter(outcome=Outcome.UNKNOWN).count() == calls_at_kill, context
    assert not logs.filter(outcome=Outcome.STARTED).exists(), context
    assert HealthSummary.objects.filter(company=company).count() == 1, context
    assert PersonaReview.objects.filter(run=run).count() == 5, context


def _quietly(get, url: str, headers: dict) -> None:
    # This read's host is killed under it: its connection error is expected.
    with contextlib.suppress(httpx.HTTPError):
        get(url, headers=headers, timeout=60)
