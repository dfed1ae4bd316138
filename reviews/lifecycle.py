"""The run lifecycle as data: one status table used by models, services, API and admin.

running -> completed, running -> failed. Both ends are terminal: a revision is a
new run, never a revived one.
"""

from django.db import models


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"  # created, or being worked on by a worker holding the lease
    COMPLETED = "completed", "Completed"  # proposal, every review and the decision are stored
    FAILED = "failed", "Failed"  # a step failed; `error` names it, partial results are kept


ALLOWED: dict[str, set[str]] = {
    RunStatus.RUNNING: {RunStatus.COMPLETED, RunStatus.FAILED},
    RunStatus.COMPLETED: set(),
    RunStatus.FAILED: set(),
}

TERMINAL = (RunStatus.COMPLETED, RunStatus.FAILED)


class RunType(models.TextChoices):
    INITIAL = "initial", "Initial"
    REVISION = "revision", "Revision"


class EventType(models.TextChoices):
    """Every RunEvent. The audit trail of a run is these rows, in id order."""

    RUN_CREATED = "run_created"
    RUN_STARTED = "run_started"  # a worker took the lease (again, after a worker died)
    PROPOSAL_TEXT = "proposal_text"  # a piece of the proposal as the model streams it
    PROPOSAL_RESET = "proposal_reset"  # the stream was retried: drop the text so far
    PROPOSAL_STORED = "proposal_stored"
    REVIEW_STORED = "review_stored"
    REVIEW_FAILED = "review_failed"
    DECISION_STORED = "decision_stored"
    RUN_COMPLETED = "run_completed"
    RUN_FAILED = "run_failed"


# The events after which a run has ended (the SSE stream ends with one of them).
FINAL_EVENTS = (EventType.RUN_COMPLETED, EventType.RUN_FAILED)


class Decision(models.TextChoices):
    """Decision labels; thresholds in reviews.aggregation."""

    APPROVE = "approve", "Approve"
    REVISE = "revise", "Revise"
    REJECT = "reject", "Reject"
