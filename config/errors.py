"""Domain errors shared by every app, mapped to HTTP in one place (config.api)."""


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, **extra) -> None:
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message)


class IllegalTransition(DomainError):
    status_code = 409
    code = "illegal_transition"
    default_message = "That status change is not allowed."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."
