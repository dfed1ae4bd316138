"""A run whose database connection is cut mid-step (a failover, a killed backend) is
interrupted, not failed: it leaves nothing streaming or claimed, is queued again and
resumes; its calls, the dead connection's included, are all on the ledger."""

import psycopg
import pytest
from django.db import connection
from django.db.models import Sum

from generation.models import Generation, GenerationLog, GenerationStatus, Outcome
from reviews import tasks
from reviews.lifecycle import EventType, RunStatus
from reviews.models import RunEvent
from tests.processes import test_database_url as database_url
from tests.providers import CountingProvider
from tests.reviews.builders import start_run

pytestmark = pytest.mark.django_db(transaction=True)


def cut_this_threads_connection() -> None:
    """Terminate this thread's database session from outside, as a failover would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    url = database_url().replace("postgres://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


class CuttingProvider(CountingProvider):
    """The offline provider, counted; the first call of the given step loses its
    thread's database connection: halfway through the streamed proposal ("expand"), or
    as the first review's answer arrives ("review")."""

    def __init__(self, step: str) -> None:
        super().__init__()
        self.step = step
        self.cuts = 1

    def _cut(self) -> None:
        with self.lock:
            cut, self.cuts = self.cuts, 0
        if cut:
            cut_this_threads_connection()

    def stream_text(self, request, schema=None):
        for number, piece in enumerate(super().stream_text(request, schema)):
            if number == 1 and self.step == "expand":
                self._cut()
            yield piece

    def generate_structured(self, request, schema):
        result = super().generate_structured(request, schema)
        if self.step == "review":
            self._cut()
        return result


@pytest.fixture(params=["expand", "review"])
def cutting(request, settings, monkeypatch) -> CuttingProvider:
    settings.EVERGREEN_PROVIDER = "offline"
    provider = CuttingProvider(request.param)
    monkeypatch.setattr("generation.flight.get_provider", lambda name=None: provider)
    return provider


def test_a_cut_connection_interrupts_the_run_which_resumes_and_completes(member, cutting, queued):
    run = start_run(member=member, idea="Audit log export")

    assert tasks.execute_run(str(run.pk)) == "interrupted"

    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.error is None
    assert queued == [str(run.pk)] * 2  # created, then queued again at once: no lease wait
    assert not Generation.objects.filter(
        status__in=(GenerationStatus.PENDING, GenerationStatus.STREAMING)
    ).exists()
    assert not GenerationLog.objects.filter(outcome=Outcome.STARTED).exists()
    calls_before = cutting.calls
    if cutting.step == "expand":
        cut_call = GenerationLog.objects.get()
        assert (cut_call.outcome, cut_call.attempts) == (Outcome.UNKNOWN, 1)
    else:
        # The cut review's answer came: its call is on the ledger as a success, but the
        # answer went with the connection and is asked for again.
        assert calls_before == 1 + 5
        assert GenerationLog.objects.filter(outcome=Outcome.SUCCESS).count() == calls_before

    assert tasks.execute_run(str(run.pk)) == "completed"

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.recoveries == 1
    assert cutting.calls == 1 + 5 + 1  # the proposal, five reviews, the cut call again
    calls_on_ledger = GenerationLog.objects.aggregate(n=Sum("attempts"))["n"]
    assert GenerationLog.objects.count() == calls_on_ledger == cutting.calls
    assert run.provider_calls == cutting.calls
    assert (run.provider, run.model) == ("offline", "offline")
    started = RunEvent.objects.filter(run=run, type=EventType.RUN_STARTED).count()
    assert started == 2
