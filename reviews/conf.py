"""The reviews settings, their allowed ranges, and the startup check that enforces them."""

from dataclasses import asdict, dataclass, replace

from django.conf import settings
from django.core import checks

from generation.retry import RetryPolicy

# setting name -> (low, high), inclusive.
RANGES: dict[str, tuple[float, float]] = {
    "REVIEWS_MAX_RETRIES_PER_PERSONA": (1, 10),
    "REVIEWS_RETRY_INITIAL_BACKOFF_SECONDS": (0.1, 60.0),
    "REVIEWS_RETRY_BACKOFF_MULTIPLIER": (1.0, 10.0),
    "REVIEWS_MAX_CONCURRENCY": (1, 20),
    "REVIEWS_LEASE_SECONDS": (1, 3600),
    "REVIEWS_MAX_WAIT_SECONDS": (0, 300),
    "REVIEWS_MAX_RECOVERIES": (0, 10),
}


@dataclass(frozen=True)
class RetrySettings:
    """Per persona: retries after the first attempt, and exponential backoff
    (initial_backoff * multiplier ** (retry - 1))."""

    max_retries: int
    initial_backoff: float
    multiplier: float

    @classmethod
    def current(cls) -> "RetrySettings":
        return cls(
            max_retries=settings.REVIEWS_MAX_RETRIES_PER_PERSONA,
            initial_backoff=settings.REVIEWS_RETRY_INITIAL_BACKOFF_SECONDS,
            multiplier=settings.REVIEWS_RETRY_BACKOFF_MULTIPLIER,
        )

    def as_dict(self) -> dict:
        return asdict(self)

    def policy(self) -> RetryPolicy:
        """The generation retry policy for one persona's review: transient errors only,
        within the project's total time cap (which the claim's lease is sized for)."""
        project = RetryPolicy.from_settings()
        return replace(
            project,
            max_attempts=self.max_retries + 1,
            base_delay=self.initial_backoff,
            multiplier=self.multiplier,
            max_delay=max(project.max_delay, self.initial_backoff),
        )


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """reviews.E001: a setting outside its range stops the process at startup."""
    errors = []
    for name, (low, high) in RANGES.items():
        value = getattr(settings, name, None)
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not low <= value <= high
        ):
            errors.append(
                checks.Error(
                    f"{name} is {value!r}; it must be a number between {low:g} and {high:g}.",
                    hint=f"Set {name} in the environment (.env) to a value in [{low:g}, {high:g}].",
                    id="reviews.E001",
                )
            )
    return errors
