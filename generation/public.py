"""What company users are told when content could not be made: one plain sentence per
kind of failure, the same in every response body, event and page.

The provider's own words (an HTTP status, its error message, a quoted key) and our
internal ones (an exception's repr) stay in the log, in GenerationLog.error and in
the admin. Everything that shows a failure to a company user asks `public_message`
for its sentence by code, never passes the stored text on.
"""

from django.db import InterfaceError, OperationalError

from core.errors import DomainError
from generation.errors import ProviderError

UNAVAILABLE = "The model service is unavailable right now."

MESSAGES = {
    "provider_unavailable": UNAVAILABLE,
    # A refused key or a wrong server: the operators' problem, not the user's to fix.
    "provider_config": UNAVAILABLE,
    "timeout": "The model service took too long to answer.",
    "invalid_output": "The model's answer could not be used.",
    "budget_exceeded": "The company's daily generation budget is spent.",
    "prompt_missing": "No active prompt exists for this content.",
    "not_stored": "The answer could not be stored.",
    "interrupted": "The work was interrupted before it finished; it is tried again.",
    "worker_lost": "The work was interrupted too many times and was stopped.",
    "internal": "Something went wrong on our side.",
}
DEFAULT = "The content could not be made."


def public_message(code: str | None) -> str:
    """The sentence a company user reads for a failure of this kind."""
    return MESSAGES.get(code or "", DEFAULT)


def error_code(exc: BaseException) -> str:
    """The kind of failure an exception is, as a key of MESSAGES."""
    if isinstance(exc, ProviderError):
        if exc.outcome in ("timeout", "invalid_output"):
            return exc.outcome
        if exc.status_code in (401, 403):
            return "provider_config"
        return "provider_unavailable"
    if isinstance(exc, DomainError):
        return exc.code
    if isinstance(exc, OperationalError | InterfaceError):
        return "interrupted"
    return "internal"
