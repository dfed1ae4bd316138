"""An ASGI server (uvicorn) on a free port against the test database, always stopped."""

import functools
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from tests.processes import ROOT, child_env, free_port, started
from tests.processes import test_database_url as database_url


@dataclass
class Server:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


@functools.cache
def collect_static() -> None:
    """STATIC_ROOT as in production (hashed names, their manifest, gzip copies), once per
    test run: a server renders pages with the manifest's names, and a name missing from
    it is an error, not a page."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=child_env(),
        check=True,
    )


def _health(url: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{url}/api/health/", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@contextmanager
def asgi_server(
    *, workers: int = 1, timeout: float = 60, ready_status: int = 200, **env: str
) -> Iterator[Server]:
    """uvicorn with `workers` processes serving config.asgi, ready when /api/health/
    answers `ready_status`; output goes to a file (a pipe nobody reads would fill up
    and stall the server)."""
    collect_static()
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="evergreen-asgi-", suffix=".log")[1])
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--lifespan",
        "off",
        "--no-access-log",
    ]
    with log.open("w") as out, started(args, env=child_env(**env), stdout=out) as proc:
        server = Server(url=f"http://127.0.0.1:{port}", log=log)
        deadline = time.monotonic() + timeout
        while _health(server.url) != ready_status:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{server.output()}")
            time.sleep(0.1)
        yield server
    log.unlink(missing_ok=True)


class ConnectionSampler(threading.Thread):
    """Counts the backends with one application_name every 20 ms; keeps the peak."""

    def __init__(self, application_name: str) -> None:
        super().__init__(daemon=True)
        self.application_name = application_name
        self.peak = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        url = database_url()
        with psycopg.connect(url, autocommit=True, application_name="evergreen-test-sampler") as c:
            while not self.stopping.is_set():
                (n,) = c.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    [self.application_name],
                ).fetchone()
                self.peak = max(self.peak, n)
                self.samples += 1
                time.sleep(0.02)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


def herd(url: str, headers: dict[str, str], n: int, timeout: float) -> tuple[list, float]:
    """`n` GETs released at once, each from its own thread: [(status or error, response)]."""
    results: list = []
    lock = threading.Lock()
    barrier = threading.Barrier(n + 1)

    def one() -> None:
        # A client of its own, made before the start (making one is not cheap).
        with httpx.Client(headers=headers, timeout=timeout) as client:
            barrier.wait()
            try:
                response = client.get(url)
                outcome = (response.status_code, response)
            except httpx.HTTPError as exc:
                outcome = (f"{type(exc).__name__}: {exc}", None)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started_at = time.monotonic()
    deadline = started_at + timeout + 30
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return results, time.monotonic() - started_at
