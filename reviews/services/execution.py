"""The worker's path: claim the run's lease, renew it while working, and run the steps.

1. expand: the idea becomes a proposal (structured, streamed; the stream is
   copied into RunEvents as it arrives so it can be followed live);
2. review: every active persona concurrently, each review committed with its
   RunEvent as it lands;
3. aggregate: the decision in plain code (reviews.aggregation);
4. complete (or fail, with an error naming the step and the persona).

Every step is idempotent: a worker that takes over a run whose worker died skips
what is stored and asks the model only for what is missing (and what the dead
worker did finish comes back from the generate-once cache).
"""

import logging

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import DomainError
from generation.leases import Renewer, owner_token
from generation.production import CONNECTION_ERRORS
from reviews.errors import StepFailed
from reviews.lifecycle import EventType, RunStatus
from reviews.models import ProposalVersion, Run
from reviews.services.calls import step_error
from reviews.services.decision import complete
from reviews.services.events import append_event
from reviews.services.personas import review_all
from reviews.services.proposal import expand
from reviews.services.runs import RUN_LEASE, enqueue, finish_failed

logger = logging.getLogger(__name__)


def claim(*, run_id, worker: str) -> bool:
    """Take the run's lease: a run nobody works on, or whose worker's lease ran out.
    Past REVIEWS_MAX_RECOVERIES takeovers the run is failed instead."""
    now = timezone.now()
    with transaction.atomic():
        run = (
            Run.objects.select_for_update()
            .filter(pk=run_id, status=RunStatus.RUNNING)
            .filter(RUN_LEASE.free(now))
            .first()
        )
        if run is None:
            return False
        takeover = bool(run.worker)
        if takeover and run.recoveries >= settings.REVIEWS_MAX_RECOVERIES:
            finish_failed(
                run_id=run.pk,
                error=step_error(
                    "recovery",
                    None,
                    "worker_lost",
                    f"The run's worker died {run.recoveries + 1} times; giving up.",
                ),
            )
            return False
        # The row is locked and free: the lease is ours whoever held it before.
        RUN_LEASE.take_over(
            Run.objects.filter(pk=run.pk),
            owner=worker,
            now=now,
            recoveries=F("recoveries") + (1 if takeover else 0),
            updated_at=now,
        )
        append_event(
            run_id=run.pk,
            event_type=EventType.RUN_STARTED,
            data={"worker": worker, "takeover": takeover, "recoveries": run.recoveries},
        )
    return True


def interrupted(*, run_id, worker: str, exc: BaseException) -> None:
    """Give the run back after its database connection broke mid-step, on a new
    connection, and queue it again: the next worker resumes where this one stopped
    (a recovery, so a database that keeps failing ends in worker_lost). If the
    database is still away, the lease runs out and recovery queues it instead."""
    logger.warning("review run %s: database connection lost (%s); queued again", run_id, exc)
    connection.close()
    try:
        if RUN_LEASE.expire(Run.objects.filter(pk=run_id, status=RunStatus.RUNNING), owner=worker):
            enqueue(run_id, reason="interrupted")
    except DatabaseError:
        logger.warning("review run %s: left to recovery", run_id)


def execute_run(*, run_id) -> str:
    """Run (or finish) a run. Safe to call twice and from several workers: only the
    holder of the lease works, and every step skips what is already stored."""
    worker = owner_token()
    if not claim(run_id=run_id, worker=worker):
        return "skipped"
    renewer = Renewer(
        RUN_LEASE,
        lambda: Run.objects.filter(pk=run_id, status=RunStatus.RUNNING),
        owner=worker,
        name=f"review-lease-{run_id}",
    )
    try:
        with renewer:
            return _run_steps(run_id)
    except CONNECTION_ERRORS as exc:
        # The database went away under a step: nothing the run did was wrong. The
        # renewer has stopped, so the lease can be ended and stay ended.
        interrupted(run_id=run_id, worker=worker, exc=exc)
        return "interrupted"


def _run_steps(run_id) -> str:
    run = Run.objects.select_related("company", "parent_run").get(pk=run_id)
    try:
        proposal = ProposalVersion.objects.filter(run=run).first() or expand(run=run)
        failures = review_all(run=run, proposal=proposal)
        if failures:
            first = failures[0]
            raise StepFailed({**first, "failures": failures})
        complete(run=run)
        return "completed"
    except StepFailed as exc:
        finish_failed(run_id=run.pk, error=exc.error)
    except DomainError as exc:
        finish_failed(run_id=run.pk, error=step_error("run", None, exc.code, exc.detail))
    except CONNECTION_ERRORS:
        raise
    except Exception as exc:
        logger.exception("review run %s crashed", run_id)
        finish_failed(run_id=run.pk, error=step_error("run", None, "internal", repr(exc)))
    return "failed"
