"""A reader outwaits a dead owner's lease, and the lease outlives the owner's retries:
in the defaults and in the example configuration people copy."""

from pathlib import Path

from django.conf import settings


def _example() -> dict[str, str]:
    """The example's values, those it gives as comments (derived defaults) included."""
    text = (Path(settings.BASE_DIR) / ".env.example").read_text()
    pairs = (line.lstrip("# ").split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if k.strip().isupper()}


def test_the_defaults_wait_past_the_lease_and_lease_past_the_retries():
    assert settings.EVERGREEN_RETRY["total_timeout"] + 10 <= settings.EVERGREEN_LEASE_SECONDS
    assert settings.EVERGREEN_WAIT_SECONDS > settings.EVERGREEN_LEASE_SECONDS


def test_the_example_configuration_keeps_the_same_order():
    env = _example()
    total = float(env["RETRY_TOTAL_TIMEOUT"])
    lease = float(env["GENERATION_LEASE_SECONDS"])
    wait = float(env["GENERATION_WAIT_SECONDS"])
    assert lease >= total + 10
    assert wait > lease
