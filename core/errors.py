"""Domain errors shared by every app, mapped to HTTP in one place (core.api)."""


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = "The request could not be completed."

    # When True, the message given to __init__ is for the log only: the client is
    # told `default_message` (provider errors, say, are not for company users).
    private_detail = False

    def __init__(self, message: str | None = None, **extra) -> None:
        self.detail = message or ""
        if self.private_detail:
            self.message = self.default_message
        else:
            self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.detail or self.message)

    def body(self) -> dict:
        """The JSON body; an error unless a subclass says otherwise (202 is not an error)."""
        error = {"code": self.code, "message": self.message}
        if self.extra:
            error["details"] = self.extra
        return {"error": error}

    def headers(self) -> dict[str, str]:
        return {}


class IllegalTransition(DomainError):
    status_code = 409
    code = "illegal_transition"
    default_message = "That status change is not allowed."
