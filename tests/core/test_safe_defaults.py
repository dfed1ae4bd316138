"""With nothing configured, the web server is production: it refuses to start without
its secrets, and the documented production settings pass Django's deployment checks.
(manage.py, the developer's tool, defaults to development.)"""

import os
import subprocess
import sys

import pytest

from tests.processes import ROOT

STRONG_SECRET = "q7Vt2pZrK9xWmL4sN8bYcD3fH6jA1eG5uR0oI-_TzXvQwPkMnBhJgFdSaLyEtCxU"
OURS = ("EVERGREEN_MODE", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in OURS and not k.startswith("SECURE_")}
    clean.update(DATABASE_URL="sqlite://:memory:", DJANGO_SETTINGS_MODULE="config.settings")
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def serve(**env: str) -> subprocess.CompletedProcess:
    """Load the ASGI application as a server would, in a clean environment."""
    clean = {k: v for k, v in os.environ.items() if k not in OURS and not k.startswith("SECURE_")}
    clean.update(DATABASE_URL="sqlite://:memory:", **env)
    return subprocess.run(
        [sys.executable, "-c", "import config.asgi"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_server_without_a_secret_key_refuses_to_start_and_says_why():
    run = serve(ALLOWED_HOSTS="evergreen.example.com")

    assert run.returncode != 0
    assert "SECRET_KEY is not set" in run.stderr


def test_a_production_command_without_a_secret_key_refuses_too():
    run = manage("check", EVERGREEN_MODE="production", ALLOWED_HOSTS="evergreen.example.com")

    assert run.returncode != 0
    assert "SECRET_KEY is not set" in run.stderr


def test_a_fresh_checkout_passes_manage_py_check_without_any_setting():
    run = manage("check")

    assert run.returncode == 0, run.stderr
    assert "no issues" in run.stdout


def test_without_allowed_hosts_it_refuses_to_start_and_says_why():
    run = serve(SECRET_KEY=STRONG_SECRET)

    assert run.returncode != 0
    assert "ALLOWED_HOSTS is not set" in run.stderr


@pytest.mark.parametrize("q_env", [{"Q_TIMEOUT": "60", "Q_RETRY": "30"}])
def test_a_task_retry_shorter_than_its_timeout_is_refused(q_env):
    run = manage("check", EVERGREEN_MODE="development", **q_env)

    assert run.returncode != 0
    assert "Q_RETRY (30 s) must be longer than Q_TIMEOUT (60 s)" in run.stderr


def test_documented_production_settings_pass_the_deployment_checks_with_no_warning():
    run = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        EVERGREEN_MODE="production",
        SECRET_KEY=STRONG_SECRET,
        ALLOWED_HOSTS="evergreen.example.com",
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "no issues" in run.stdout


def test_debug_is_off_unless_asked_for_even_in_development():
    code = "from django.conf import settings; print(settings.DEBUG)"
    run = manage("shell", "-c", code, EVERGREEN_MODE="development")

    assert run.stdout.strip().splitlines()[-1] == "False", run.stderr
