"""The retry policy, with an injected sleep and clock: no real waiting."""

import random

import pytest

from generation.errors import InvalidOutput, ProviderError
from generation.retry import RetryPolicy, call_with_retry


class FakeTime:
    """A clock that only moves when the policy sleeps (or an attempt takes time)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def script(*outcomes):
    """fn(attempt) raising or returning the outcomes in order; records attempt numbers."""
    seen: list[int] = []

    def fn(attempt: int):
        seen.append(attempt)
        outcome = outcomes[len(seen) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    fn.seen = seen
    return fn


def transient(**kw) -> ProviderError:
    return ProviderError("HTTP 503", transient=True, status_code=503, **kw)


def run(fn, policy: RetryPolicy, time_: FakeTime):
    return call_with_retry(fn, policy=policy, sleep=time_.sleep, clock=time_.clock)


POLICY = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0, total_timeout=60.0)


def test_transient_failures_are_retried_then_the_result_and_attempts_returned():
    time_ = FakeTime()
    fn = script(transient(), transient(), "ok")
    assert run(fn, POLICY, time_) == ("ok", 3)
    assert fn.seen == [1, 2, 3]
    assert len(time_.sleeps) == 2


def test_success_at_once_makes_one_attempt_and_no_sleep():
    time_ = FakeTime()
    assert run(script("ok"), POLICY, time_) == ("ok", 1)
    assert time_.sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_non_transient_failure_is_raised_at_once_with_one_attempt(status):
    time_ = FakeTime()
    fn = script(ProviderError(f"HTTP {status}", transient=False, status_code=status), "ok")
    with pytest.raises(ProviderError) as exc:
        run(fn, POLICY, time_)
    assert exc.value.attempts == 1
    assert fn.seen == [1]
    assert time_.sleeps == []


def test_retry_after_is_honoured_even_above_the_backoff_ceiling():
    time_ = FakeTime()
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, total_timeout=60)
    assert run(script(transient(retry_after=2.5), "ok"), policy, time_) == ("ok", 2)
    assert time_.sleeps == [2.5]


def test_backoff_is_full_jitter_up_to_the_exponential_ceiling():
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (8, 3.0)]:
        delays = [policy.backoff(attempt, rng) for _ in range(2000)]
        assert all(0 <= d <= ceiling for d in delays)
        # Full jitter spreads over the whole range, from near 0 to near the ceiling.
        assert min(delays) < 0.05 * ceiling
        assert max(delays) > 0.95 * ceiling


def test_sleeps_between_attempts_stay_within_each_attempts_jitter_range():
    policy = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=1.5, total_timeout=600)
    for _ in range(50):
        time_ = FakeTime()
        with pytest.raises(ProviderError):
            run(script(*[transient()] * 5), policy, time_)
        assert len(time_.sleeps) == 4
        for attempt, delay in enumerate(time_.sleeps, start=1):
            assert 0 <= delay <= min(1.5, 0.5 * 2 ** (attempt - 1))


def test_max_attempts_bounds_the_requests_and_is_reported():
    time_ = FakeTime()
    fn = script(*[transient()] * 10)
    with pytest.raises(ProviderError) as exc:
        run(fn, POLICY, time_)
    assert exc.value.attempts == POLICY.max_attempts
    assert fn.seen == [1, 2, 3, 4]
    assert len(time_.sleeps) == 3


def test_total_timeout_stops_retrying_before_the_deadline_is_passed():
    time_ = FakeTime()
    policy = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.01, total_timeout=1.0)
    fn = script(*[transient(retry_after=0.6)] * 10)
    with pytest.raises(ProviderError) as exc:
        run(fn, policy, time_)
    # 0.6 s wait after attempt 1 fits; a second 0.6 s wait would end past 1.0 s.
    assert exc.value.attempts == 2
    assert time_.sleeps == [0.6]


def test_time_spent_in_attempts_counts_against_the_total_timeout():
    time_ = FakeTime()
    policy = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.01, total_timeout=5.0)

    def slow(attempt: int):
        time_.now += 2.0  # each request times out after 2 s
        raise ProviderError("timed out", transient=True, outcome="timeout")

    with pytest.raises(ProviderError) as exc:
        run(slow, policy, time_)
    assert exc.value.outcome == "timeout"
    assert exc.value.attempts == 3  # 0-2 s, 2-4 s, 4-6 s: no fourth start after 5 s
    assert time_.now - 100.0 <= 5.0 + 2.0 + 0.01


def test_retry_after_past_the_deadline_gives_up_at_once():
    time_ = FakeTime()
    policy = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, total_timeout=10)
    fn = script(transient(retry_after=30), "ok")
    with pytest.raises(ProviderError) as exc:
        run(fn, policy, time_)
    assert exc.value.attempts == 1
    assert time_.sleeps == []


def test_invalid_output_is_retried_once_only():
    time_ = FakeTime()
    fn = script(
        InvalidOutput("bad", raw_text="{}"), InvalidOutput("bad again", raw_text="[]"), "ok"
    )
    with pytest.raises(InvalidOutput) as exc:
        run(fn, POLICY, time_)
    assert exc.value.attempts == 2
    assert exc.value.raw_text == "[]"
    assert fn.seen == [1, 2]


def test_invalid_output_then_valid_reply_succeeds_on_the_second_attempt():
    time_ = FakeTime()
    assert run(script(InvalidOutput("bad"), "ok"), POLICY, time_) == ("ok", 2)


def test_transient_failures_around_one_invalid_output_still_retry_to_max_attempts():
    time_ = FakeTime()
    fn = script(transient(), InvalidOutput("bad"), transient(), "ok")
    assert run(fn, POLICY, time_) == ("ok", 4)


def test_errors_other_than_provider_errors_are_not_retried():
    time_ = FakeTime()
    fn = script(KeyError("bug"), "ok")
    with pytest.raises(KeyError):
        run(fn, POLICY, time_)
    assert fn.seen == [1]


def test_policy_reads_the_settings(settings):
    settings.EVERGREEN_RETRY = {
        "max_attempts": 6,
        "base_delay": 0.2,
        "max_delay": 4.0,
        "total_timeout": 30.0,
        "request_timeout": 5.0,
    }
    assert RetryPolicy.from_settings() == RetryPolicy(
        max_attempts=6, base_delay=0.2, max_delay=4.0, total_timeout=30.0
    )
