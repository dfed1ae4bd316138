"""Start and always stop the processes a test needs, pointed at the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """DATABASE_URL of the database this test run really uses (test_<name>)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child Django process: same settings, test database."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        DJANGO_SETTINGS_MODULE="config.settings",
        EVERGREEN_PROVIDER=settings.EVERGREEN_PROVIDER,
        OPENAI_API_KEY=settings.OPENAI_API_KEY or "",
        OPENAI_BASE_URL=settings.OPENAI_BASE_URL or "",
        OPENAI_MODEL=settings.OPENAI_MODEL,
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@contextmanager
def started(
    args: list[str], *, env: dict[str, str] | None = None, stdout=subprocess.PIPE
) -> Iterator[subprocess.Popen]:
    """Popen in its own process group; the whole group is stopped however the test ends."""
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env or child_env(),
        start_new_session=True,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


@contextmanager
def qcluster(**env: str) -> Iterator[subprocess.Popen]:
    """A Django-Q2 cluster on the test database (ORM broker)."""
    with started([sys.executable, "manage.py", "qcluster"], env=child_env(**env)) as proc:
        yield proc


def wait_until(predicate, *, timeout: float = 30, interval: float = 0.1, message: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message or f"condition not met within {timeout}s")


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgid, state) of every process, from /proc (Linux)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def descendants(pid: int) -> set[int]:
    """Every living process started (directly or not) by `pid`, whatever its group."""
    table = _proc_table()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (ppid, _, state) in table.items() if ppid in frontier and state != "Z"}
        frontier -= found
        found |= frontier
    return found


def running(pids: set[int] | None = None, *, group: int | None = None) -> set[int]:
    """Which of `pids` (or of process group `group`) still run; zombies do not count."""
    pids = pids or set()
    return {
        p
        for p, (_, pgid, state) in _proc_table().items()
        if state != "Z" and (p in pids or (group is not None and pgid == group))
    }
