"""Retry only transient provider failures, with exponential backoff and full
jitter, honouring Retry-After, within a total time cap."""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings

from generation.errors import InvalidOutput, ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    total_timeout: float = 60.0
    # Each retry waits up to base_delay * multiplier ** (attempt - 1), capped at max_delay.
    multiplier: float = 2.0
    # A schema failure may be the model's bad luck: one more try, not more.
    max_invalid_output_retries: int = 1

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        conf = settings.EVERGREEN_RETRY
        return cls(
            max_attempts=conf["max_attempts"],
            base_delay=conf["base_delay"],
            max_delay=conf["max_delay"],
            total_timeout=conf["total_timeout"],
        )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * multiplier**(attempt-1))]."""
        ceiling = min(self.max_delay, self.base_delay * (self.multiplier ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)


def call_with_retry(
    fn: Callable[[int], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[T, int]:
    """Call fn(attempt) until it succeeds; return (result, attempts).

    On giving up, re-raises the last ProviderError with `.attempts` set, so the
    caller can log how many requests were really made.
    """
    deadline = clock() + policy.total_timeout
    invalid_outputs = 0
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(attempt), attempt
        except ProviderError as exc:
            exc.attempts = attempt
            if isinstance(exc, InvalidOutput):
                invalid_outputs += 1
                retry = invalid_outputs <= policy.max_invalid_output_retries
            else:
                retry = exc.transient
            if not retry or attempt >= policy.max_attempts:
                raise
            delay = policy.backoff(attempt)
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            if clock() + delay >= deadline:
                raise
            sleep(delay)
