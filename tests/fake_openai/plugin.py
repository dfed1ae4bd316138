"""Fixtures for the fake OpenAI-compatible server (tests/fake_openai/server.py)."""

from collections.abc import Iterator

import pytest

from tests.fake_openai.server import FakeOpenAI

TEST_RETRY = {
    "base_delay": 0.01,
    "max_delay": 0.05,
    "request_timeout": 2.0,
    "total_timeout": 10.0,
}
RETRY_ENV = {
    "RETRY_BASE_DELAY": "base_delay",
    "RETRY_MAX_DELAY": "max_delay",
    "RETRY_TOTAL_TIMEOUT": "total_timeout",
    "OPENAI_REQUEST_TIMEOUT": "request_timeout",
}


def _clear_provider_cache() -> None:
    from generation.providers import _build

    _build.cache_clear()


@pytest.fixture
def fake_openai(settings, monkeypatch) -> Iterator[FakeOpenAI]:
    """A real OpenAI-compatible HTTP server for one test, the openai provider pointed at it.

        def test_rate_limit_then_success(fake_openai, company):
            fake_openai.fail(429, retry_after=1)      # next request: 429 + Retry-After: 1
            ...
            assert fake_openai.calls == 2

    With the fixture active, Django settings point the real `openai` provider at
    the server (OPENAI_BASE_URL, OPENAI_API_KEY="test-key",
    EVERGREEN_PROVIDER="openai") and the retry policy uses tiny delays
    (EVERGREEN_RETRY: base_delay 0.01 s, max_delay 0.05 s, request_timeout 2 s,
    total_timeout 10 s). The same values are put in the environment
    (OPENAI_BASE_URL, RETRY_*, OPENAI_REQUEST_TIMEOUT), so child processes
    started with tests.processes.child_env() use the server and the same policy.

    Scripting (each step answers the next request, FIFO; `times=n` answers n
    requests, `times=None` every request until the test ends; an empty script
    means a normal success):
        fake_openai.fail(429, retry_after=1)   HTTP error; Retry-After header in seconds
        fake_openai.fail(500, times=None)      the provider is down
        fake_openai.fail(401)                  not transient: no retry expected
        fake_openai.delay(3)                   answer after 3 s (past request_timeout)
        fake_openai.malformed()                HTTP 200 whose body is not valid JSON
        fake_openai.reply('{"not": "valid"}')  this output text, whatever the schema asks
        fake_openai.cut(after=2)               a stream dropped after 2 deltas, never completed
        fake_openai.pace(0.05)                 every stream: 50 ms between deltas (not a step)
        fake_openai.cached_tokens = 64         every reply reports 64 input tokens as cached

    Without a scripted reply the text is deterministic; a request with a
    json_schema text format gets JSON generated from that schema (so it validates).

    Reading:
        fake_openai.calls      POST /v1/responses received (faulted ones included)
        fake_openai.requests   their parsed JSON bodies, in order
        fake_openai.base_url   "http://127.0.0.1:<port>/v1"
        fake_openai.pending    scripted steps not consumed yet
        fake_openai.output_text(body)  the unscripted answer to a request body
        fake_openai.reset()    clear the script, counter and requests

    The server lives for one test (starting it takes about a millisecond) and is
    stopped when the test ends, however it ends.
    """
    server = FakeOpenAI()
    try:
        retry = {**settings.EVERGREEN_RETRY, **TEST_RETRY}
        settings.OPENAI_BASE_URL = server.base_url
        settings.OPENAI_API_KEY = "test-key"
        settings.EVERGREEN_PROVIDER = "openai"
        settings.EVERGREEN_RETRY = retry
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("EVERGREEN_PROVIDER", "openai")
        monkeypatch.setenv("RETRY_MAX_ATTEMPTS", str(retry["max_attempts"]))
        for name, key in RETRY_ENV.items():
            monkeypatch.setenv(name, str(retry[key]))
        _clear_provider_cache()
        yield server
    finally:
        _clear_provider_cache()
        server.stop()
