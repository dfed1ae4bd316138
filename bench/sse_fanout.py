"""SSE fan-out: 100 clients following one streaming generation on one uvicorn worker.

Run (PostgreSQL; loopback only; about 15 s, the first run a little more to migrate):

    .venv/bin/python bench/sse_fanout.py [--clients 100] [--chunks 50] [--interval 0.075]
        [--pool-max N] [--drop]

The database is DATABASE_URL if set, else postgres://postgres@127.0.0.1:5432/
evergreen_bench_sse. Its name must contain "bench" (never the dev or test database).
It is created and migrated if missing and LEFT in place for the next run (a run
adds a company, a user, two generations and their chunks); --drop drops it at the end.

What it does:

- starts ONE uvicorn worker serving config.asgi on a free loopback port, with
  DB_APPLICATION_NAME=evergreen-bench-sse (its output goes to a temporary file,
  and its process group is always stopped at the end); --pool-max sets its
  DB_POOL_MAX_SIZE (default: the project's, 4);
- baseline, in this process, before any client: a plain psycopg connection
  LISTENs on the channel while the same writer writes the same chunks to another
  generation; latency = notification arrival - commit (and, for information,
  arrival + one SELECT of the new chunk on a second plain connection);
- fan-out: --clients SSE clients (asyncio + httpx, one event loop in a thread)
  follow one streaming generation. A first chunk (seq 0) is written before they
  connect; once every client has it, the writer writes --chunks chunks, each in
  its own transaction followed by notify_generation, --interval seconds apart.
  A chunk's text is {"t": wall-clock time inside the transaction}; the writer
  also keeps the wall-clock time just after COMMIT returned, and each client's
  latency for a chunk is its arrival time (the end of the event on the client)
  minus that commit time. Then the generation is completed and notified; every
  client must get seq 0..N exactly once, in order, then `done`;
- a sampler counts the worker's connections in pg_stat_activity (by its
  application_name) every 50 ms: the peak total, and the LISTEN connections
  (state idle, query starting with LISTEN), which must be exactly 1 while the
  clients are connected; the exit status is 1 otherwise (or if a client missed
  or repeated a chunk).

Printed: p50 / p95 / max of commit -> arrival over all clients and chunks (goal
p50 <= 50 ms) beside the baseline and their ratio, per chunk the first and the
last client to get it, the worker's peak connections, os.cpu_count(), and, to
see where the time goes: the CPU used while the chunks went out by the worker,
its PostgreSQL backends and this process (Linux /proc), and what one woken
client's read (generation.sse._read) costs, timed in this process.
"""

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bench.common import cpu_seconds, percentile, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/evergreen_bench_sse"
SERVER_APP_NAME = "evergreen-bench-sse"
DRIVER_APP_NAME = "evergreen-bench-sse-driver"
CHANNEL = "evergreen_generation"  # generation.events.CHANNEL (checked after setup)
GOAL_P50_MS = 50.0

# Caps: every wait below is bounded by one of these.
SERVER_START_SECONDS = 30.0
CLIENTS_READY_SECONDS = 30.0
CLIENTS_TOTAL_SECONDS = 90.0
DELIVERY_GRACE_SECONDS = 15.0
DRAIN_SECONDS = 1.0  # after the last chunk, before the generation is completed
SAMPLE_EVERY = 0.05


def _admin_url(url: str) -> str:
    return urlparse(url)._replace(path="/postgres").geturl()


def _db_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def _ensure_database(url: str) -> bool:
    """Create the database if missing; True when it was created."""
    import psycopg

    name = _db_name(url)
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def _drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_db_name(url)}" WITH (FORCE)')


class CpuMeter:
    """CPU used during a window by the worker, its database backends and this process."""

    def __init__(self, url: str, server_pid: int) -> None:
        self.url = url
        self.server_pid = server_pid
        self.start: dict[str, float | None] = {}
        self.backends: dict[int, float] = {}
        self.used: dict[str, float | None] = {}

    def _backend_pids(self) -> list[int]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, application_name=DRIVER_APP_NAME) as c:
            rows = c.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                [SERVER_APP_NAME],
            ).fetchall()
        return [pid for (pid,) in rows]

    def begin(self) -> None:
        self.wall = time.monotonic()
        self.start = {"worker": cpu_seconds(self.server_pid), "this": time.process_time()}
        for pid in self._backend_pids():
            cpu = cpu_seconds(pid)
            if cpu is not None:
                self.backends[pid] = cpu

    def end(self) -> None:
        self.wall = time.monotonic() - self.wall
        worker = cpu_seconds(self.server_pid)
        start = self.start["worker"]
        self.used["worker"] = None if worker is None or start is None else worker - start
        self.used["this"] = time.process_time() - self.start["this"]
        total, known = 0.0, False
        for pid in self._backend_pids():
            cpu = cpu_seconds(pid)
            if cpu is not None:
                total += cpu - self.backends.get(pid, 0.0)
                known = True
        self.used["backends"] = total if known else None

    def share(self, name: str) -> str:
        used = self.used.get(name)
        return "n/a" if used is None else f"{used / self.wall * 100:.0f}%"


# --- the writer (Django ORM, main thread) --------------------------------------------


class Writer:
    """Writes chunks as a streaming generation does: one transaction each, then notify."""

    def __init__(self, generation) -> None:
        self.generation = generation
        self.text = ""
        self.pieces: dict[int, str] = {}  # seq -> the chunk's text
        self.committed: dict[int, float] = {}  # seq -> wall-clock time after COMMIT
        self.commit_ms: list[float] = []  # time in the transaction -> after COMMIT

    def chunk(self, seq: int) -> None:
        from django.db import transaction
        from django.utils import timezone

        from generation.events import notify_generation
        from generation.models import Chunk, Generation

        with transaction.atomic():
            written = time.time()
            piece = json.dumps({"t": written})
            self.text += piece
            self.pieces[seq] = piece
            Chunk.objects.create(generation=self.generation, seq=seq, text=piece)
            Generation.objects.filter(pk=self.generation.pk).update(
                text=self.text, updated_at=timezone.now()
            )
        self.committed[seq] = time.time()
        self.commit_ms.append((self.committed[seq] - written) * 1000)
        notify_generation(self.generation.pk)

    def complete(self) -> None:
        from django.utils import timezone

        from generation.events import notify_generation
        from generation.models import Generation, GenerationStatus

        Generation.objects.filter(pk=self.generation.pk).update(
            status=GenerationStatus.COMPLETED, completed_at=timezone.now()
        )
        notify_generation(self.generation.pk)


def _new_generation(company):
    from generation.models import Generation, GenerationStatus

    return Generation.objects.create(
        kind="story",
        scope=f"company:{company.pk}",
        context_hash=uuid.uuid4().hex * 2,
        company=company,
        stream=True,
        status=GenerationStatus.STREAMING,
    )


def _write_paced(writer: Writer, seqs: range, interval: float) -> None:
    next_at = time.monotonic()
    for seq in seqs:
        writer.chunk(seq)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


# --- baseline: a plain psycopg LISTEN (no Django, no HTTP) ---------------------------


class RawListener(threading.Thread):
    """LISTENs on the channel; for `generation_id`, records the arrival of each
    notification and, after one SELECT of the chunks it has not read yet on a
    second connection, the arrival of the chunk itself."""

    def __init__(self, url: str, generation_id: int, *, read: bool) -> None:
        super().__init__(name="bench-raw-listener", daemon=True)
        self.url = url
        self.key = str(generation_id)
        self.generation_id = generation_id
        self.read = read
        self.stop = threading.Event()
        self.listening = threading.Event()
        self.notified: list[float] = []  # arrival time of each notification
        self.read_at: dict[int, float] = {}  # seq -> time its row was read
        self.error: BaseException | None = None

    def run(self) -> None:
        import psycopg

        try:
            opts = {"autocommit": True, "application_name": DRIVER_APP_NAME}
            with (
                psycopg.connect(self.url, **opts) as conn,
                psycopg.connect(self.url, **opts) as reader,
            ):
                conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                last = -1
                while not self.stop.is_set():
                    for note in conn.notifies(timeout=0.2):
                        if note.payload != self.key:
                            continue
                        self.notified.append(time.time())
                        if not self.read:
                            continue
                        rows = reader.execute(
                            "SELECT seq, text FROM generation_chunk "
                            "WHERE generation_id = %s AND seq > %s ORDER BY seq",
                            [self.generation_id, last],
                        ).fetchall()
                        now = time.time()
                        for seq, _text in rows:
                            self.read_at[seq] = now
                            last = seq
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.listening.set()


# --- connections of the worker, from pg_stat_activity --------------------------------

COUNT_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE state = 'idle' AND query ILIKE 'LISTEN%%'),
       count(*) FILTER (WHERE state <> 'idle')
FROM pg_stat_activity WHERE application_name = %s AND datname = %s
"""


@dataclass
class Sample:
    at: float
    total: int
    listen: int
    busy: int


class Sampler(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(name="bench-pg-sampler", daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.samples: list[Sample] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(
                self.url, autocommit=True, application_name=DRIVER_APP_NAME
            ) as conn:
                while not self.stop.is_set():
                    row = conn.execute(COUNT_SQL, [SERVER_APP_NAME, _db_name(self.url)]).fetchone()
                    self.samples.append(Sample(time.monotonic(), *row))
                    self.stop.wait(SAMPLE_EVERY)
        except BaseException as exc:
            self.error = exc

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at <= end]


# --- the SSE clients (asyncio + httpx, in a thread of their own) ---------------------


@dataclass
class ClientResult:
    events: list[tuple[str, int | None, float]] = field(default_factory=list)  # name, id, at
    texts: dict[int, str] = field(default_factory=dict)
    error: str = ""


async def _follow(http, url: str, headers: dict, result: ClientResult, on_first) -> None:
    from tests.generation.sse_client import parse

    async with http.stream("GET", url, headers=headers) as response:
        if response.status_code != 200:
            body = await response.aread()
            raise RuntimeError(f"HTTP {response.status_code}: {body[:200]!r}")
        lines: list[str] = []
        async for line in response.aiter_lines():
            if line:
                lines.append(line)
                continue
            arrived = time.time()
            for event in parse(iter([*lines, ""])):
                result.events.append((event.name, event.id, arrived))
                if event.name == "chunk":
                    result.texts[event.id] = event.data["text"]
                    if event.id == 0:
                        on_first()
            lines = []


async def _clients(
    url: str, token: str, results: list[ClientResult], ready: threading.Event
) -> None:
    """Follow `url` with len(results) clients; `ready` is set once each of them has
    had chunk 0 or failed."""
    import httpx

    count = len(results)
    settled = 0

    def on_first() -> None:
        nonlocal settled
        settled += 1
        if settled == count:
            ready.set()

    headers = {"Authorization": f"Token {token}", "Accept": "text/event-stream"}
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(10.0, read=30.0)

    async def one(result: ClientResult) -> None:
        try:
            await _follow(http, url, headers, result, on_first)
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            if 0 not in result.texts:
                on_first()  # settled, without it

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        tasks = [asyncio.create_task(one(r)) for r in results]
        _done, pending = await asyncio.wait(tasks, timeout=CLIENTS_TOTAL_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    for result, task in zip(results, tasks, strict=True):
        if task in pending:
            result.error = result.error or f"still open after {CLIENTS_TOTAL_SECONDS:.0f}s"


def _check(result: ClientResult, chunks: int) -> str:
    """'' when the client got seq 0..chunks exactly once, in order, then done."""
    if result.error:
        return result.error
    names = [name for name, _, _ in result.events]
    seqs = [seq for name, seq, _ in result.events if name == "chunk"]
    if seqs != list(range(chunks + 1)):
        return f"chunks {seqs[:5]}...{seqs[-5:]} (n={len(seqs)}) instead of 0..{chunks}"
    if names != ["chunk"] * (chunks + 1) + ["done"]:
        return f"events {sorted(set(names))}, last {names[-1:]}"
    return ""


# --- the server ----------------------------------------------------------------------


def _server_env(url: str, pool_max: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("EVERGREEN_MODE", "development")  # no production secret to configure
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="False",
        EVERGREEN_PROVIDER="offline",
        DB_APPLICATION_NAME=SERVER_APP_NAME,
        PYTHONPATH=str(ROOT),
    )
    if pool_max is not None:
        env["DB_POOL_MAX_SIZE"] = str(pool_max)
    return env


# --- the run -------------------------------------------------------------------------


@dataclass
class Figures:
    baseline_ms: list[float]
    baseline_read_ms: list[float]
    sse_ms: list[float]
    first_ms: list[float]  # per chunk, the first client to get it
    last_ms: list[float]  # per chunk, the last client to get it
    raw_during_ms: list[float]  # plain LISTEN in this process during the fan-out
    commit_ms: list[float]
    cpu: CpuMeter
    read_ms: float
    peak_total: int
    listen_counts: list[int]
    peak_busy: int
    failed_clients: int
    failures: list[str]
    fanout_seconds: float


def _read_cost_ms(generation, seq: int, iterations: int = 200) -> float:
    """What one shared read costs the worker, measured in this process:
    generation.sse._read (the generation and its chunks after a seq, connection given
    back). Clients woken together share one such read."""
    from generation.sse import _read

    def once() -> None:
        assert len(_read(generation.pk, seq - 1).chunks) == 1

    for _ in range(20):
        once()
    timings = []
    for _ in range(iterations):
        started = time.perf_counter()
        once()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def _measure(url: str, base: str, token: str, company, args, server_pid: int) -> Figures:
    import generation.events

    assert generation.events.CHANNEL == CHANNEL

    # Baseline: the same writes, a plain LISTEN in this process, nothing else running.
    base_writer = Writer(_new_generation(company))
    raw = RawListener(url, base_writer.generation.pk, read=True)
    raw.start()
    raw.listening.wait(10)
    _write_paced(base_writer, range(args.chunks), args.interval)
    time.sleep(0.5)
    raw.stop.set()
    raw.join(5)
    if raw.error is not None:
        raise RuntimeError(f"baseline listener failed: {raw.error!r}")
    if len(raw.notified) != args.chunks:
        raise RuntimeError(f"baseline got {len(raw.notified)} of {args.chunks} notifications")
    seqs = range(args.chunks)
    baseline_ms = [(raw.notified[s] - base_writer.committed[s]) * 1000 for s in seqs]
    baseline_read_ms = [
        (raw.read_at[s] - base_writer.committed[s]) * 1000 for s in seqs if s in raw.read_at
    ]

    # Fan-out.
    writer = Writer(_new_generation(company))
    writer.chunk(0)  # every client gets it on connecting: it says the client is in
    sampler = Sampler(url)
    sampler.start()
    during = RawListener(url, writer.generation.pk, read=False)
    during.start()
    during.listening.wait(10)
    ready = threading.Event()
    events_url = f"{base}/api/generations/{writer.generation.pk}/events"
    results = [ClientResult() for _ in range(args.clients)]
    pool = ThreadPoolExecutor(1, thread_name_prefix="bench-sse-clients")
    started = time.monotonic()
    running = pool.submit(asyncio.run, _clients(events_url, token, results, ready))
    try:
        ready.wait(CLIENTS_READY_SECONDS)
        if running.done():
            running.result()  # raises what went wrong, if anything
        errors = [r.error for r in results if r.error]
        if errors or not ready.is_set():
            raise RuntimeError(
                f"{len(errors)} clients failed ({errors[:3]}) or not every client had "
                f"chunk 0 within {CLIENTS_READY_SECONDS:.0f}s"
            )
        connected = time.monotonic()
        cpu = CpuMeter(url, server_pid)
        cpu.begin()
        _write_paced(writer, range(1, args.chunks + 1), args.interval)
        time.sleep(DRAIN_SECONDS)  # the last chunk reaches everyone
        cpu.end()
        writing_done = time.monotonic()
        writer.complete()
        running.result(timeout=CLIENTS_TOTAL_SECONDS + DELIVERY_GRACE_SECONDS)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        sampler.stop.set()
        during.stop.set()
        sampler.join(5)
        during.join(5)
    if sampler.error is not None:
        raise RuntimeError(f"pg_stat_activity sampler failed: {sampler.error!r}")

    failures = [
        f"client {n}: {why}" for n, r in enumerate(results) if (why := _check(r, args.chunks))
    ]
    failed_clients = len(failures)
    sse_ms: list[float] = []
    per_chunk: dict[int, list[float]] = {}
    for result in results:
        for name, seq, arrived in result.events:
            if name == "chunk" and seq in writer.committed and seq > 0:
                latency = (arrived - writer.committed[seq]) * 1000
                sse_ms.append(latency)
                per_chunk.setdefault(seq, []).append(latency)
                if result.texts[seq] != writer.pieces[seq]:
                    failures.append(f"chunk {seq}: not the text written")
    window = sampler.between(connected, writing_done)
    everything = sampler.between(started, time.monotonic())
    return Figures(
        baseline_ms=baseline_ms,
        baseline_read_ms=baseline_read_ms,
        sse_ms=sse_ms,
        first_ms=[min(v) for v in per_chunk.values()],
        last_ms=[max(v) for v in per_chunk.values()],
        raw_during_ms=[
            (at - writer.committed[s]) * 1000
            for s, at in zip(range(1, args.chunks + 1), during.notified, strict=False)
        ],
        commit_ms=writer.commit_ms,
        cpu=cpu,
        read_ms=_read_cost_ms(base_writer.generation, args.chunks - 1),
        peak_total=max((s.total for s in everything), default=0),
        listen_counts=sorted({s.listen for s in window}),
        peak_busy=max((s.busy for s in everything), default=0),
        failed_clients=failed_clients,
        failures=failures,
        fanout_seconds=writing_done - connected,
    )


def _row(label: str, samples: list[float]) -> str:
    if not samples:
        return f"  {label:<40} {'-':>9} {'-':>9} {'-':>9} {0:>8}"
    return (
        f"  {label:<40} {percentile(samples, 50):>6.1f} ms {percentile(samples, 95):>6.1f} ms "
        f"{max(samples):>6.1f} ms {len(samples):>8}"
    )


def _report(fig: Figures, args, pool_max: str) -> int:
    print(
        f"SSE fan-out: {args.clients} clients, {args.chunks} chunks {args.interval * 1000:.0f} ms "
        f"apart, 1 uvicorn worker, DB_POOL_MAX_SIZE={pool_max}, os.cpu_count()={os.cpu_count()}"
    )
    print(f"  {'commit -> arrival':<40} {'p50':>9} {'p95':>9} {'max':>9} {'samples':>8}")
    print(_row("baseline: psycopg LISTEN (floor)", fig.baseline_ms))
    print(_row("baseline: LISTEN + SELECT of the chunk", fig.baseline_read_ms))
    print(_row("SSE clients, all (goal p50 <= 50 ms)", fig.sse_ms))
    print(_row("SSE, first client per chunk", fig.first_ms))
    print(_row("SSE, last client per chunk", fig.last_ms))
    print(_row("psycopg LISTEN during the fan-out", fig.raw_during_ms))
    base50, sse50 = percentile(fig.baseline_ms, 50), percentile(fig.sse_ms, 50)
    goal = "met" if sse50 <= GOAL_P50_MS else "NOT met"
    print(
        f"  ratio SSE / floor: p50 {sse50 / base50:.0f}x, p95 "
        f"{percentile(fig.sse_ms, 95) / percentile(fig.baseline_ms, 95):.0f}x; goal p50 <= "
        f"{GOAL_P50_MS:.0f} ms: {goal}"
    )
    print(
        f"  writer's transaction (INSERT chunk, UPDATE text, COMMIT): p50 "
        f"{percentile(fig.commit_ms, 50):.1f} ms"
    )
    print(
        f"  CPU while the chunks went out ({fig.cpu.wall:.1f} s, in % of one core): worker "
        f"{fig.cpu.share('worker')}, its PostgreSQL backends {fig.cpu.share('backends')}, "
        f"this process (clients, writer) {fig.cpu.share('this')}"
    )
    print(
        f"  one shared read (generation.sse._read, in this process): "
        f"{fig.read_ms:.2f} ms; clients woken together share it, so a chunk costs "
        f"about one read per worker, not {args.clients}"
    )
    listen_ok = fig.listen_counts == [1]
    print(
        f"  worker connections ({SERVER_APP_NAME}): peak total {fig.peak_total}, "
        f"peak not idle {fig.peak_busy}, LISTEN while clients connected "
        f"{'/'.join(map(str, fig.listen_counts)) or 'none sampled'} "
        f"({'ok' if listen_ok else 'MUST BE 1'})"
    )
    delivered = args.clients - fig.failed_clients
    print(
        f"  delivery: {delivered}/{args.clients} clients got 0..{args.chunks} exactly once "
        f"in order then done ({fig.fanout_seconds:.1f} s of chunks)"
    )
    for failure in fig.failures[:10]:
        print(f"    {failure}")
    return 0 if listen_ok and not fig.failures else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.075, help="seconds between chunks")
    parser.add_argument("--pool-max", type=int, default=None, help="worker's DB_POOL_MAX_SIZE")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--keep-log", action="store_true", help="keep the server's output file")
    args = parser.parse_args()
    if not (1 <= args.clients <= 1000 and 1 <= args.chunks <= 500 and args.interval <= 1):
        parser.error("--clients 1..1000, --chunks 1..500, --interval <= 1")

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith(("postgres://", "postgresql://")) or "bench" not in _db_name(url):
        sys.exit("DATABASE_URL must name a PostgreSQL database of its own with 'bench' in it.")
    # SIGTERM unwinds like Ctrl-C, so the server is stopped whatever happens.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    created = _ensure_database(url)
    # A bench on a database of its own: no production secret or hosts to configure.
    os.environ.setdefault("EVERGREEN_MODE", "development")
    os.environ.update(
        DATABASE_URL=url,
        DEBUG="False",
        DJANGO_SETTINGS_MODULE="config.settings",
        EVERGREEN_PROVIDER="offline",
        DB_APPLICATION_NAME=DRIVER_APP_NAME,
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from companies.services import create_api_user
    from tests.processes import free_port, started

    call_command("migrate", verbosity=0)
    name = f"bench-sse-{uuid.uuid4().hex[:8]}"
    membership, token = create_api_user(username=name, company_name=name, role="viewer")
    print(
        f"database {_db_name(url)} ({'created and migrated' if created else 'reused'}; "
        f"{'dropped' if args.drop else 'left'} at the end)"
    )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--lifespan",
        "off",
        "--no-access-log",
    ]
    log = Path(tempfile.mkstemp(prefix="evergreen-bench-sse-", suffix=".log")[1])
    status = 1
    try:
        with (
            log.open("w") as out,
            started(command, env=_server_env(url, args.pool_max), stdout=out) as proc,
        ):
            wait_until_up(base, proc, seconds=SERVER_START_SECONDS)
            figures = _measure(url, base, token.key, membership.company, args, proc.pid)
        pool_max = str(args.pool_max) if args.pool_max is not None else "4 (default)"
        status = _report(figures, args, pool_max)
    except BaseException:
        print(f"server output ({log}):\n{log.read_text(errors='replace')[-3000:]}")
        args.keep_log = True
        raise
    finally:
        connection.close()
        if args.drop:
            _drop_database(url)
        if not args.keep_log:
            log.unlink(missing_ok=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
