"""1,000 SSE clients on one streamed generation, across one host's uvicorn workers.

    .venv/bin/python -m bench.sse_host [--clients 1000] [--workers 2] [--client-procs 2]
        [--chars 4800] [--pace 0.03] [--pool-max N] [--drop]

PostgreSQL database: DATABASE_URL if set, else postgres://postgres@127.0.0.1:5432/
evergreen_bench_sse_host (its name must contain "bench"); created and migrated if
missing, left in place for the next run (--drop drops it). About 40 s.

The path measured is the production one end to end:

- the fake OpenAI server (tests/fake_openai, real HTTP on loopback, in this process)
  streams a known text of `--chars` characters in 12-character deltas, `--pace`
  seconds apart (0.03 s: about 100 tokens a second);
- the owner, a thread of this process, is `generation.streams.stream_into` with the
  project's OpenAI provider pointed at the fake server: it writes the deltas as
  Chunk rows about ten times a second (STREAM_FLUSH_SECONDS), each commit followed
  by pg_notify; then the generation is completed and notified, as production does;
- uvicorn serves config.asgi with `--workers` processes (DB_APPLICATION_NAME
  evergreen-bench-sse-host, the project's pool, output to a temporary file, the
  process group always stopped);
- `--clients` SSE clients follow GET /api/generations/<id>/events, spread over
  `--client-procs` processes of their own (asyncio, one raw HTTP/1.1 connection per
  client: an httpx client costs several times the CPU per event and would measure
  itself on 2 cores). A client stores each read from its socket with its wall-clock
  arrival time; the events are decoded after the stream ends.

Latency, all on this machine's wall clock (time.time() in every process):

- chunk written -> arrival: the Chunk row's `created_at` (set by the owner just
  before its INSERT, UPDATE and COMMIT) to the moment the read that completed the
  event returned on the client. This is what the server controls (commit, NOTIFY,
  the hub, the shared read, the write to each socket). Goal: p50 <= 50 ms,
  p99 <= 250 ms.
- provider delta -> arrival: when the owner received each delta from the provider
  (the fake server sent it well under a millisecond earlier, same host) to the
  arrival of the chunk that carries its last character. It adds the owner's
  batching: a delta waits for the next flush, up to STREAM_FLUSH_SECONDS.
- NOTIFY -> arrival: a plain psycopg LISTEN in this process, for information.

Checked: every client gets every chunk exactly once, in order, then `done`, and
the text it assembles is exactly the text the fake server sent (mismatches are
counted); the server's connections in pg_stat_activity (sampled every 50 ms: the
peak, and exactly one LISTEN connection per worker while the clients are
connected). Memory: each worker's RSS (/proc/<pid>/status VmRSS) after a warm-up
with no client, with every client connected, and its peak while the chunks go
out; "per 1,000 clients" is (connected - idle) summed over the workers, scaled
to 1,000. Exit status 1 when a check fails.
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlparse

from bench.common import cpu_seconds, percentile, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/evergreen_bench_sse_host"
SERVER_APP_NAME = "evergreen-bench-sse-host"
DRIVER_APP_NAME = "evergreen-bench-sse-host-driver"
GOAL_P50_MS, GOAL_P99_MS = 50.0, 250.0

SERVER_START_SECONDS = 60.0
CLIENTS_READY_SECONDS = 120.0
STREAM_SECONDS = 300.0
CLIENTS_EXIT_SECONDS = 120.0


# --- the clients (a process of their own: `python -m bench.sse_host client ...`) ------


class Follower(asyncio.Protocol):
    """One SSE client on a raw connection: keeps every read with its arrival time."""

    END = b"\r\n0\r\n\r\n"  # the last chunk of a chunked response

    def __init__(self, request: bytes, on_ready) -> None:
        self.request = request
        self.on_ready = on_ready
        self.pieces: list[tuple[float, bytes]] = []
        self.ready = False
        self.tail = b""
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.pieces.append((time.time(), data))
        if not self.ready and b"retry:" in data:
            self.ready = True
            self.on_ready()
        tail = self.tail + data
        if tail.endswith(self.END):
            self.transport.close()
        self.tail = tail[-len(self.END) :]

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


def decode(pieces: list[tuple[float, bytes]]) -> tuple[int, list[tuple[float, dict]]]:
    """(HTTP status, [(arrival, event)]) from the reads of one response: an event
    arrived with the read that completed it."""
    raw, body = bytearray(), bytearray()
    status, chunked = None, False
    events = []
    for at, data in pieces:
        raw += data
        if status is None:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                continue
            head = raw[:end].decode("latin-1")
            status = int(head.split()[1])
            chunked = "transfer-encoding: chunked" in head.lower()
            del raw[: end + 4]
        while raw:
            if not chunked:
                body += raw
                raw.clear()
                break
            nl = raw.find(b"\r\n")
            if nl < 0:
                break
            size = int(bytes(raw[:nl]).split(b";")[0], 16)
            if len(raw) < nl + 2 + size + 2:
                break
            body += raw[nl + 2 : nl + 2 + size]
            del raw[: nl + 2 + size + 2]
        while (sep := body.find(b"\n\n")) >= 0:
            block = bytes(body[:sep]).decode()
            del body[: sep + 2]
            event: dict = {}
            for line in block.split("\n"):
                field, _, value = line.partition(": ")
                if field in ("event", "id", "data"):
                    event[field] = value
            if "event" in event:
                events.append((at, event))
    return status or 0, events


def check(status: int, events: list[tuple[float, dict]]) -> dict:
    """What one client got: arrival per chunk seq, the text's hash, what was wrong."""
    arrivals, text, why = [], [], ""
    names = [e["event"] for _, e in events]
    if status != 200:
        why = f"HTTP {status}"
    elif names[-1:] != ["done"] or set(names[:-1]) - {"chunk"}:
        why = f"events {sorted(set(names))}, last {names[-1:]}"
    for at, event in events:
        if event["event"] == "chunk":
            data = json.loads(event["data"])
            arrivals.append((data["seq"], at))
            text.append(data["text"])
    seqs = [seq for seq, _ in arrivals]
    if not why and seqs != list(range(seqs[0] if seqs else 0, (seqs[-1] + 1) if seqs else 0)):
        why = f"chunks not each once in order: {seqs[:5]}... (n={len(seqs)})"
    return {
        "arrivals": arrivals,
        "sha": hashlib.sha256("".join(text).encode()).hexdigest(),
        "why": why,
    }


async def _clients(host: str, port: int, path: str, token: str, n: int, ready: Path) -> list:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    loop = asyncio.get_running_loop()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Token {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    settled = 0

    def on_ready() -> None:
        nonlocal settled
        settled += 1
        if settled == n:
            ready.write_text(str(n))

    async def one():
        follower = None
        try:
            _, follower = await asyncio.wait_for(
                loop.create_connection(lambda: Follower(request, on_ready), host, port), 60
            )
            await asyncio.wait_for(follower.closed, STREAM_SECONDS + CLIENTS_READY_SECONDS)
            return follower.pieces, ""
        except Exception as exc:
            if follower is None or not follower.ready:
                on_ready()  # settled, without it
            return (follower.pieces if follower else []), f"{type(exc).__name__}: {exc}"

    return await asyncio.gather(*(one() for _ in range(n)))


def client_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("--host", "--path", "--token", "--out"):
        parser.add_argument(name, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("-n", type=int, required=True)
    args = parser.parse_args(argv)
    out = Path(args.out)
    ready = out.with_suffix(".ready")
    got = asyncio.run(_clients(args.host, args.port, args.path, args.token, args.n, ready))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results = []
    for pieces, error in got:
        status, events = decode(pieces)
        result = check(status, events)
        result["why"] = error or result["why"]
        results.append(result)
    out.write_text(json.dumps({"clients": results, "cpu": usage.ru_utime + usage.ru_stime}))


# --- the server, the owner, the samplers (this process) --------------------------------


def _status(pid: int, field: str) -> int:
    """A number from /proc/<pid>/status (VmRSS in kB, Threads)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _rss_kb(pid: int) -> int:
    return _status(pid, "VmRSS")


def _sched(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of the process's main
    thread, the one running the event loop (/proc/<pid>/task/<pid>/schedstat)."""
    on_cpu, run_delay, _ = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(on_cpu) / 1e9, int(run_delay) / 1e9


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def _workers(master: int) -> list[int]:
    """The uvicorn worker processes (not multiprocessing's resource tracker)."""
    pids = []
    for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"resource_tracker" not in cmdline:
            pids.append(int(pid))
    return pids


class Sampler(threading.Thread):
    """Every 50 ms: the server's connections (total, LISTEN) and its workers' RSS."""

    def __init__(self, url: str, workers: list[int]) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.url, self.workers = url, workers
        self.stop = threading.Event()
        self.samples: list[tuple[float, int, int, dict[int, int]]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(
                self.url, autocommit=True, application_name=DRIVER_APP_NAME
            ) as conn:
                while not self.stop.is_set():
                    total, listen = conn.execute(
                        "SELECT count(*), count(*) FILTER (WHERE state = 'idle' "
                        "AND query ILIKE 'LISTEN%%') FROM pg_stat_activity "
                        "WHERE application_name = %s",
                        [SERVER_APP_NAME],
                    ).fetchone()
                    rss = {pid: _rss_kb(pid) for pid in self.workers}
                    self.samples.append((time.monotonic(), total, listen, rss))
                    self.stop.wait(0.05)
        except BaseException as exc:
            self.error = exc

    def between(self, start: float, end: float) -> list:
        return [s for s in self.samples if start <= s[0] <= end]


class Listener(threading.Thread):
    """A plain psycopg LISTEN: the arrival time of each notification of one key."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(name="bench-listen", daemon=True)
        self.url, self.key = url, key
        self.stop, self.listening = threading.Event(), threading.Event()
        self.notified: list[float] = []

    def run(self) -> None:
        import psycopg

        from generation.events import CHANNEL

        with psycopg.connect(self.url, autocommit=True, application_name=DRIVER_APP_NAME) as c:
            c.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            while not self.stop.is_set():
                for note in c.notifies(timeout=0.2):
                    if note.payload == self.key:
                        self.notified.append(time.time())


class TimedProvider:
    """The project's provider, noting when each text delta reached the owner."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.deltas: list[tuple[float, str]] = []

    def stream_text(self, request, schema=None):
        for event in self.inner.stream_text(request, schema):
            if isinstance(event, str):
                self.deltas.append((time.time(), event))
            yield event


def known_text(chars: int) -> str:
    """A text with paragraphs, quotes and non-ASCII characters, `chars` long."""
    line = (
        'Paragraph {n}: the team "re-created" reports by hand — every week, '
        "à la main; now 6 h/week are saved ✓.\n\n"
    )
    text, n = "", 0
    while len(text) < chars:
        text += line.format(n=n)
        n += 1
    return text[:chars]


def _warm(base: str, path: str, token: str, times: int = 40) -> None:
    """Requests enough for every worker to have served the SSE view once."""
    for _ in range(times):
        request = urllib.request.Request(base + path, headers={"Authorization": f"Token {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def _new_generation(company, status):
    from generation.models import Generation

    return Generation.objects.create(
        kind="story",
        scope=f"company:{company.pk}",
        context_hash=uuid.uuid4().hex * 2,
        company=company,
        stream=True,
        status=status,
    )


def _own(generation, provider, text: str) -> None:
    """The owner's part: stream the provider into chunks, then complete and notify."""
    from django.db import connection
    from django.utils import timezone

    from generation.events import notify_generation
    from generation.models import Generation, GenerationStatus
    from generation.providers import ProviderRequest
    from generation.streams import stream_into

    try:
        request = ProviderRequest(
            instructions="", input="Write the story.", model="gpt-4o-mini", timeout=60
        )
        result = stream_into(generation, provider, request, schema=None)
        assert result.text == text, "the provider's final text is not the known text"
        Generation.objects.filter(pk=generation.pk).update(
            status=GenerationStatus.COMPLETED, text=result.text, completed_at=timezone.now()
        )
        notify_generation(generation.pk)
    finally:
        connection.close()


def _serve_command(port: int, workers: int) -> list[str]:
    return [
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


def _start_clients(args, port: int, path: str, token: str, tmp: Path) -> list:
    procs = []
    per = [args.clients // args.client_procs] * args.client_procs
    per[0] += args.clients - sum(per)
    for i, n in enumerate(per):
        out = tmp / f"clients-{i}.json"
        procs.append(
            (
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.sse_host",
                        "client",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--path",
                        path,
                        "--token",
                        token,
                        "--out",
                        str(out),
                        "-n",
                        str(n),
                    ],
                    cwd=ROOT,
                    start_new_session=True,
                ),
                out,
            )
        )
    return procs


def measure(args, url: str) -> dict:
    from django.core.management import call_command

    from companies.services import create_api_user
    from generation.models import Chunk, GenerationStatus
    from generation.providers import get_provider
    from tests.fake_openai.server import FakeOpenAI
    from tests.processes import free_port, started, stop

    call_command("migrate", verbosity=0)
    name = f"bench-sse-host-{uuid.uuid4().hex[:8]}"
    membership, token = create_api_user(username=name, company_name=name, role="viewer")
    company = membership.company
    text = known_text(args.chars)
    fake = FakeOpenAI(port=int(os.environ["BENCH_FAKE_PORT"]))
    fake.reply(text, times=None).pace(args.pace)
    provider = TimedProvider(get_provider())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update(
        DB_APPLICATION_NAME=SERVER_APP_NAME,
        EVERGREEN_PROVIDER="offline",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    if args.pool_max is not None:
        env["DB_POOL_MAX_SIZE"] = str(args.pool_max)
    tmp = Path(tempfile.mkdtemp(prefix="evergreen-bench-sse-host-"))
    log = tmp / "server.log"
    figures: dict = {"text_chars": len(text)}
    clients: list = []
    try:
        with (
            log.open("w") as out,
            started(_serve_command(port, args.workers), env=env, stdout=out) as proc,
        ):
            wait_until_up(base, proc, seconds=SERVER_START_SECONDS)
            finished = _new_generation(company, GenerationStatus.COMPLETED)
            _warm(base, f"/api/generations/{finished.pk}/events", token.key)
            workers = _workers(proc.pid)
            time.sleep(1.0)
            idle = {pid: _rss_kb(pid) for pid in workers}
            idle_sockets = {pid: _sockets(pid) for pid in workers}
            idle_threads = {pid: _status(pid, "Threads") for pid in workers}
            generation = _new_generation(company, GenerationStatus.STREAMING)
            sampler = Sampler(url, workers)
            sampler.start()
            listener = Listener(url, str(generation.pk))
            listener.start()
            listener.listening.wait(10)
            path = f"/api/generations/{generation.pk}/events"
            connecting = time.monotonic()
            clients = _start_clients(args, port, path, token.key, tmp)
            deadline = time.monotonic() + CLIENTS_READY_SECONDS
            while not all(out.with_suffix(".ready").exists() for _, out in clients):
                if time.monotonic() > deadline or any(p.poll() is not None for p, _ in clients):
                    raise RuntimeError("the clients did not all connect")
                time.sleep(0.05)
            figures["connect_seconds"] = time.monotonic() - connecting
            time.sleep(1.0)  # settled: every client waits on the hub
            connected = {pid: _rss_kb(pid) for pid in workers}
            figures["sockets"] = {pid: _sockets(pid) - idle_sockets[pid] for pid in workers}
            figures["threads"] = {
                pid: (idle_threads[pid], _status(pid, "Threads")) for pid in workers
            }
            cpu_before = {pid: cpu_seconds(pid) for pid in workers}
            sched_before = {pid: _sched(pid) for pid in workers}
            this_before = time.process_time()
            streaming = time.monotonic()
            owner = threading.Thread(
                target=_own, args=(generation, provider, text), name="bench-owner"
            )
            owner.start()
            owner.join(STREAM_SECONDS)
            if owner.is_alive():
                raise RuntimeError("the owner did not finish streaming")
            streamed = time.monotonic()
            for client, _ in clients:
                client.wait(CLIENTS_EXIT_SECONDS)
            ended = time.monotonic()
            figures["cpu"] = {
                pid: (cpu_seconds(pid) - cpu_before[pid]) / (streamed - streaming)
                for pid in workers
            }
            figures["sched"] = {
                pid: tuple(
                    after - before
                    for after, before in zip(_sched(pid), sched_before[pid], strict=True)
                )
                for pid in workers
            }
            figures["this_cpu"] = (time.process_time() - this_before) / (streamed - streaming)
            sampler.stop.set()
            listener.stop.set()
            sampler.join(5)
            listener.join(5)
        if sampler.error is not None:
            raise RuntimeError(f"sampler failed: {sampler.error!r}")
        during = sampler.between(connecting, ended)
        connected_window = sampler.between(connecting + figures["connect_seconds"], streamed)
        figures.update(
            workers=workers,
            idle_rss=idle,
            connected_rss=connected,
            peak_rss={pid: max(s[3][pid] for s in during) for pid in workers},
            peak_connections=max(s[1] for s in during),
            listen_counts=sorted({s[2] for s in connected_window}),
            stream_seconds=streamed - streaming,
        )
        chunks = list(
            Chunk.objects.filter(generation=generation)
            .order_by("seq")
            .values_list("seq", "text", "created_at")
        )
        figures["chunks"] = chunks
        figures["deltas"] = provider.deltas
        figures["notified"] = listener.notified
        figures["expected_sha"] = hashlib.sha256(text.encode()).hexdigest()
        figures["sent_text_ok"] = "".join(d for _, d in provider.deltas) == text
        results, client_cpu = [], 0.0
        for client, out in clients:
            if not out.exists():
                raise RuntimeError(f"a client process left no result (status {client.poll()})")
            loaded = json.loads(out.read_text())
            results += loaded["clients"]
            client_cpu += loaded["cpu"]
        figures["results"] = results
        figures["client_cpu"] = client_cpu
        return figures
    except BaseException:
        print(f"server output:\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        for client, _ in clients:
            stop(client)
        fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def latencies(fig: dict) -> dict[str, list[float]]:
    chunks = fig["chunks"]
    created = {seq: at.timestamp() for seq, _, at in chunks}
    # Chunk seq -> the range of the text it carries, to find each delta's chunk.
    ends, offset = [], 0
    for seq, piece, _ in chunks:
        offset += len(piece)
        ends.append((offset, seq))
    delta_chunk, offset, i = [], 0, 0
    for received, piece in fig["deltas"]:
        offset += len(piece)
        while ends[i][0] < offset:
            i += 1
        delta_chunk.append((received, ends[i][1]))
    # The notifications: the attempt's start, one per chunk, the completion.
    notified = fig["notified"]
    note_of = (
        {seq: notified[1 + n] for n, (seq, _, _) in enumerate(chunks)}
        if len(notified) == len(chunks) + 2
        else {}
    )
    written, provider, notify, last_per_chunk = [], [], [], {}
    for result in fig["results"]:
        arrived = dict(result["arrivals"])
        for seq, at in arrived.items():
            if seq in created:
                written.append((at - created[seq]) * 1000)
                last_per_chunk[seq] = max(last_per_chunk.get(seq, 0.0), at - created[seq])
            if seq in note_of:
                notify.append((at - note_of[seq]) * 1000)
        for received, seq in delta_chunk:
            if seq in arrived:
                provider.append((arrived[seq] - received) * 1000)
    batching = [(created[seq] - received) * 1000 for received, seq in delta_chunk]
    # The same latency by quarter of the stream: a rise says the fan-out falls behind.
    quarters: list[list[float]] = [[], [], [], []]
    last_seq = max(created) if created else 0
    for result in fig["results"]:
        for seq, at in result["arrivals"]:
            if seq in created:
                quarters[min(3, seq * 4 // (last_seq + 1))].append((at - created[seq]) * 1000)
    fig["quarters"] = quarters
    return {
        "chunk written -> arrival": written,
        "provider delta -> arrival": provider,
        "NOTIFY (plain LISTEN) -> arrival": notify,
        "last client per chunk": [v * 1000 for v in last_per_chunk.values()],
        "provider delta -> chunk written (batching)": batching,
    }


def report(fig: dict, args) -> int:
    failures = []
    seqs = [seq for seq, _, _ in fig["chunks"]]
    mismatches = 0
    for n, result in enumerate(fig["results"]):
        got = [seq for seq, _ in result["arrivals"]]
        if result["why"] or got != seqs:
            failures.append(f"client {n}: {result['why'] or 'not every chunk'}")
        if result["sha"] != fig["expected_sha"]:
            mismatches += 1
    if not fig["sent_text_ok"]:
        failures.append("the deltas the owner got are not the known text")
    workers = fig["workers"]
    print(
        f"SSE on one host: {args.clients} clients ({args.client_procs} client processes), "
        f"uvicorn {args.workers} workers, os.cpu_count()={os.cpu_count()}, one generation of "
        f"{fig['text_chars']} chars, 12-char deltas {args.pace * 1000:.0f} ms apart -> "
        f"{len(seqs)} chunks in {fig['stream_seconds']:.1f} s"
    )
    print(f"  {'latency':<44}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}{'samples':>9}")
    lat = latencies(fig)
    for label, samples in lat.items():
        if samples:
            print(
                f"  {label:<44}{percentile(samples, 50):>6.1f} ms{percentile(samples, 95):>6.1f} ms"
                f"{percentile(samples, 99):>6.1f} ms{max(samples):>6.1f} ms{len(samples):>9}"
            )
    written = lat["chunk written -> arrival"]
    p50, p99 = percentile(written, 50), percentile(written, 99)
    met = p50 <= GOAL_P50_MS and p99 <= GOAL_P99_MS
    print(
        f"  goal (chunk written -> arrival) p50 <= {GOAL_P50_MS:.0f} ms and p99 <= "
        f"{GOAL_P99_MS:.0f} ms: {'met' if met else 'NOT met'} ({p50:.1f} / {p99:.1f} ms)"
    )
    print(
        "  chunk written -> arrival p50 by quarter of the stream: "
        + " / ".join(f"{percentile(q, 50):.0f}" for q in fig["quarters"])
        + " ms"
    )
    worker_cpu = sum(fig["cpu"].values()) * fig["stream_seconds"]
    events = len(written)
    print(
        f"  server CPU per chunk event sent: {worker_cpu / max(events, 1) * 1e6:.0f} us "
        f"({worker_cpu:.1f} s of worker CPU for {events:,} events); one chunk to "
        f"{args.clients} clients thus needs {worker_cpu / max(len(seqs), 1) * 1000:.0f} ms of "
        f"CPU, {fig['stream_seconds'] / max(len(seqs), 1) * 1000:.0f} ms apart"
    )
    ok_clients = args.clients - len(failures)
    print(
        f"  delivery: {ok_clients}/{args.clients} clients got every chunk once, in order, "
        f"then done; text mismatches: {mismatches}; connecting all took "
        f"{fig['connect_seconds']:.1f} s"
    )
    for failure in failures[:10]:
        print(f"    {failure}")
    idle = sum(fig["idle_rss"].values())
    connected = sum(fig["connected_rss"].values())
    peak = sum(fig["peak_rss"].values())
    per_1000 = (connected - idle) * 1000 / args.clients / 1024
    print(
        f"  worker RSS (sum of {len(workers)}): idle {idle / 1024:.0f} MB, with the clients "
        f"connected {connected / 1024:.0f} MB, peak while streaming {peak / 1024:.0f} MB -> "
        f"{per_1000:.0f} MB per 1,000 clients (connected - idle)"
    )
    for pid in workers:
        print(
            f"    worker {pid}: {fig['sockets'][pid]} client sockets, RSS idle "
            f"{fig['idle_rss'][pid] / 1024:.0f} MB, connected "
            f"{fig['connected_rss'][pid] / 1024:.0f} MB, peak {fig['peak_rss'][pid] / 1024:.0f}"
            f" MB, CPU while streaming {fig['cpu'][pid] * 100:.0f}% of a core"
        )
        before, during = fig["threads"][pid]
        print(f"      threads: {before} idle, {during} with its clients connected")
        ran, waited = fig["sched"][pid]
        print(
            f"      its event loop thread while streaming: {ran:.1f} s on a CPU, "
            f"{waited:.1f} s runnable but waiting for a CPU (the machine's other work)"
        )
    print(
        f"  CPU while streaming: clients {fig['client_cpu']:.1f} s in all, this process "
        f"(owner, fake provider, samplers) {fig['this_cpu'] * 100:.0f}% of a core"
    )
    listen_ok = fig["listen_counts"] == [len(workers)]
    bound = args.workers * ((args.pool_max or 4) + 1)
    conns_ok = fig["peak_connections"] <= bound
    print(
        f"  server connections (pg_stat_activity): peak {fig['peak_connections']} for "
        f"{args.clients} clients (bound: {args.workers} x (pool {args.pool_max or 4} + 1 "
        f"LISTEN) = {bound}: {'ok' if conns_ok else 'EXCEEDED'}); LISTEN while connected "
        f"{'/'.join(map(str, fig['listen_counts']))} "
        f"({'ok' if listen_ok else f'MUST BE {len(workers)}'})"
    )
    return 0 if listen_ok and conns_ok and not failures and not mismatches and met else 1


def main() -> int:
    if sys.argv[1:2] == ["client"]:
        client_main(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--chars", type=int, default=4800)
    parser.add_argument("--pace", type=float, default=0.03, help="seconds between deltas")
    parser.add_argument("--pool-max", type=int, default=None, help="DB_POOL_MAX_SIZE")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    name = urlparse(url).path.lstrip("/")
    if not url.startswith(("postgres://", "postgresql://")) or "bench" not in name:
        sys.exit("DATABASE_URL must name a PostgreSQL database of its own with 'bench' in it.")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.clients + 1024  # inherited by the server and the client processes
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from bench.sse_fanout import _drop_database, _ensure_database
    from tests.processes import free_port

    created = _ensure_database(url)
    fake_port = free_port()
    os.environ.setdefault("EVERGREEN_MODE", "development")
    os.environ.update(
        DATABASE_URL=url,
        DEBUG="False",
        DJANGO_SETTINGS_MODULE="config.settings",
        DB_APPLICATION_NAME=DRIVER_APP_NAME,
        # The owner (this process) calls the fake provider; the server never does.
        EVERGREEN_PROVIDER="openai",
        OPENAI_API_KEY="bench-key",
        OPENAI_BASE_URL=f"http://127.0.0.1:{fake_port}/v1",
        BENCH_FAKE_PORT=str(fake_port),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    print(f"database {name} ({'created' if created else 'reused'}); load: {os.getloadavg()}")
    try:
        return report(measure(args, url), args)
    finally:
        connection.close()
        if args.drop:
            _drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
