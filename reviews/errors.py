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


# Keys of a run's error JSON kept for the admin and the log, never shown to companies.
PRIVATE_KEYS = frozenset({"provider_error"})


def public(data):
    """`data` without the private keys, at any depth (errors nest per persona)."""
    if isinstance(data, dict):
        return {k: public(v) for k, v in data.items() if k not in PRIVATE_KEYS}
    if isinstance(data, list):
        return [public(v) for v in data]
    return data
