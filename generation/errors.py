from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError


class ProviderError(Exception):
    """A failed call to a model provider.

    `transient` decides whether the retry policy tries again; `outcome` is what
    the GenerationLog records (failed, timeout, invalid_output).
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        outcome: str = "failed",
        status_code: int | None = None,
        retry_after: float | None = None,
        raw_text: str = "",
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.outcome = outcome
        self.status_code = status_code
        self.retry_after = retry_after
        self.raw_text = raw_text
        self.attempts = 0  # set by the retry policy when it gives up


class InvalidOutput(ProviderError):
    """The model answered, but not in the requested schema."""

    def __init__(self, message: str, *, raw_text: str = "") -> None:
        super().__init__(message, transient=False, outcome="invalid_output", raw_text=raw_text)


class ProviderUnavailable(DomainError):
    status_code = 503
    code = "provider_unavailable"
    default_message = "The model is unavailable right now and there is no earlier content to show."
    # The provider's own error text is for the log and the admin, not for company users.
    private_detail = True


class BudgetExceeded(DomainError):
    status_code = 429
    code = "budget_exceeded"
    default_message = "The company's daily generation budget is spent; no earlier content exists."

    def headers(self) -> dict[str, str]:
        # Budgets are per day: a new one starts at the next midnight.
        now = timezone.localtime()
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return {"Retry-After": str(int((midnight - now).total_seconds()) + 1)}


class GenerationPending(DomainError):
    """The artefact is being generated; the caller asked not to wait."""

    status_code = 202
    code = "pending"
    default_message = "The content is being generated."

    def __init__(self, generation, message: str | None = None) -> None:
        super().__init__(message, generation_id=generation.pk)
        self.generation = generation

    def url(self) -> str:
        return reverse("generation-detail", args=[self.generation.pk])

    def body(self) -> dict:
        return {
            "status": "pending",
            "message": self.message,
            "generation": {"id": self.generation.pk, "url": self.url()},
        }

    def headers(self) -> dict[str, str]:
        return {"Location": self.url(), "Retry-After": "1"}


class PromptMissing(DomainError):
    status_code = 503
    code = "prompt_missing"
    default_message = "No active prompt version exists for this content."
