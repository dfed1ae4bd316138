from core.errors import DomainError


class IdempotencyConflict(DomainError):
    status_code = 422
    code = "idempotency_conflict"
    default_message = "This Idempotency-Key was already used with a different request body."


class NoProposal(DomainError):
    status_code = 409
    code = "no_proposal"
    default_message = "The run has no proposal to revise."


class StepFailed(Exception):
    """A step of a run failed; `error` is the run's error JSON."""

    def __init__(self, error: dict) -> None:
        super().__init__(error.get("message", ""))
        self.error = error
