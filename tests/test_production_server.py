"""The production server: uvicorn workers on PostgreSQL under a herd, and bin/run as a whole.

Both start real processes on the test database (or a SQLite file) and stop their
whole process group however the test ends.
"""

import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from rest_framework.authtoken.models import Token

from recommendations.models import HealthSummary
from tests.builders import make_company, make_member, restore_migrated_rows
from tests.processes import (
    ROOT,
    child_env,
    descendants,
    free_port,
    running,
    started,
    stop,
    wait_until,
)
from tests.processes import test_database_url as database_url
from tests.recommendations.builders import make_journey
from tests.servers import ConnectionSampler, asgi_server, herd

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 3
POOL_MAX = 4
HERD = 200
PROVIDER_DELAY = 3.0  # the one provider call is slow: the herd arrives while it runs


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _log_tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def test_a_herd_of_first_reads_makes_one_call_and_holds_a_bounded_number_of_connections(
    fake_openai,
):
    if database_url().startswith("sqlite"):
        pytest.skip("counts PostgreSQL connections")
    company = make_company()
    member = make_member(company=company, role="viewer")
    token = Token.objects.create(user=member.user).key
    make_journey(domains=2, steps=3)
    restore_migrated_rows()
    fake_openai.delay(PROVIDER_DELAY)

    application_name = f"evergreen-herd-{uuid.uuid4().hex[:12]}"
    sampler = ConnectionSampler(application_name)

    with asgi_server(
        workers=WORKERS,
        DEBUG="false",
        DB_APPLICATION_NAME=application_name,
        DB_POOL="true",
        DB_POOL_MAX_SIZE=str(POOL_MAX),
        # Every request of the herd enters the generation path: do not throttle it.
        GENERATION_THROTTLE_RATE="1000000/minute",
        # The fixture's 2 s request timeout would retry the deliberately slow call.
        OPENAI_REQUEST_TIMEOUT="20",
        RETRY_TOTAL_TIMEOUT="30",
        LOG_LEVEL="WARNING",
    ) as server:
        base = server.url
        sampler.start()
        url = f"{base}/api/companies/{company.pk}/health/"
        results, wall = herd(url, {"Authorization": f"Token {token}"}, HERD, timeout=120)
        # Follow every 202 to the generation it names.
        followed = {}
        for status, response in results:
            if status == 202:
                location = response.headers.get("Location") or response.json()["generation"]["url"]
                followed.setdefault(httpx.URL(base).join(location), None)
        for location in followed:
            followed[location] = wait_until(
                lambda location=location: _completed(location, token),
                timeout=60,
                message=f"{location} did not complete",
            )
        sampler.stop()
        log = server.output()

    statuses = Counter(status for status, _ in results)
    summary = (
        f"{HERD} first reads of the health summary, {WORKERS} workers x pool max {POOL_MAX}: "
        f"statuses {dict(statuses)}, peak connections {sampler.peak} "
        f"(bound {WORKERS * (POOL_MAX + 1)}, {sampler.samples} samples), "
        f"provider calls {fake_openai.calls}, wall {wall:.2f}s"
    )
    print(f"\n{summary}")
    context = f"{summary}\nserver log:\n{log}"

    assert len(results) == HERD, context
    assert fake_openai.calls == 1, context
    assert not [s for s in statuses if not isinstance(s, int) or s >= 500], context
    assert set(statuses) <= {200, 202}, context
    summary_row = HealthSummary.objects.get(company=company)
    for status, response in results:
        if status == 200:
            assert response.json()["id"] == summary_row.pk, context
    for generation in followed.values():
        assert generation["id"] == summary_row.generation_id, context
    assert sampler.peak <= WORKERS * (POOL_MAX + 1), context


def _completed(url: str, token: str) -> dict | None:
    response = httpx.get(url, headers={"Authorization": f"Token {token}"}, timeout=10)
    if response.status_code == 200 and response.json()["status"] == "completed":
        return response.json()
    return None


STREAM_SCRIPT = """
from companies.models import Company
from generation.errors import GenerationPending
from generation.flight import get_or_generate

company = Company.objects.get(slug="acme-demo")
try:
    result = get_or_generate(
        kind="health_summary",
        scope=f"company:{company.pk}",
        prompt_key="health_summary",
        inputs={"context": {}, "check": "bin/run serves a stream"},
        company_id=company.pk,
        stream=True,
        wait=False,
    )
    generation = result.generation
except GenerationPending as pending:
    generation = pending.generation
print("generation", generation.pk)
"""


@pytest.mark.django_db(transaction=False)
def test_bin_run_serves_the_app_static_files_and_a_stream_and_leaves_nothing_behind(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        EVERGREEN_ADDR=f"127.0.0.1:{port}",
        EVERGREEN_PROVIDER="offline",
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
        WEB_WORKERS="2",
        RUN_STOP_TIMEOUT="8",
    )
    for name in ("DEBUG", "EVERGREEN_MODE", "DB_POOL", "CONN_MAX_AGE"):
        env.pop(name, None)  # bin/run's own defaults
    log = tmp_path / "bin-run.log"

    with log.open("w") as out, started([str(ROOT / "bin" / "run")], env=env, stdout=out) as proc:
        wait_until(
            lambda: proc.poll() is not None or _up(base),
            timeout=300,  # migrates a new database and loads the demo data first
            interval=0.5,
            message=f"bin/run did not answer /api/health/:\n{_log_tail(log)}",
        )
        assert proc.poll() is None, _log_tail(log)

        static = httpx.get(f"{base}/static/admin/css/base.css", timeout=10)
        assert static.status_code == 200, _log_tail(log)
        assert "text/css" in static.headers["content-type"]

        token = re.search(r"demo API token: (\w+)", log.read_text()).group(1)
        made = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", STREAM_SCRIPT],
            cwd=ROOT,
            env={**env, "EVERGREEN_MODE": "development"},  # as bin/run has it
            capture_output=True,
            text=True,
            timeout=60,
        )
        generation_id = re.search(r"generation (\d+)", made.stdout)
        assert generation_id, made.stdout + made.stderr
        events_url = f"{base}/api/generations/{generation_id.group(1)}/events"
        curl = subprocess.run(
            ["curl", "-sN", "--max-time", "60", "-H", f"Authorization: Token {token}", events_url],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert curl.returncode == 0, curl.stderr + _log_tail(log)
        events = re.findall(r"^event: (\w+)$", curl.stdout, re.MULTILINE)
        assert events and events[-1] == "done", curl.stdout

        family = descendants(proc.pid) | {proc.pid}
        assert len(family) >= 6, family  # bash, uvicorn and its workers, the cluster
        stop(proc, timeout=20)

    wait_until(
        lambda: not running(family, group=proc.pid),
        timeout=30,
        message=f"left running: {running(family, group=proc.pid)}\n{_log_tail(log)}",
    )
    assert proc.returncode in (0, 143, -15), (proc.returncode, _log_tail(log))
    assert "Traceback" not in log.read_text(), _log_tail(log)
