from core.errors import DomainError
from generation.public import public_message


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


def public_error(error: dict) -> dict:
    """A run's or a step's error as a company user may see it: no private keys, and the
    message the public sentence for its code, in it and in the failures it nests (rows
    written before messages were stored that way carry the provider's text)."""
    shown = {k: v for k, v in error.items() if k not in PRIVATE_KEYS}
    if "code" in shown:
        shown["message"] = public_message(shown["code"])
    if isinstance(shown.get("failures"), list):
        shown["failures"] = [
            public_error(f) if isinstance(f, dict) else f for f in shown["failures"]
        ]
    return shown


def public(data: dict) -> dict:
    """An event's data as a company user may see it: its error made public."""
    error = data.get("error")
    return {**data, "error": public_error(error)} if isinstance(error, dict) else data
