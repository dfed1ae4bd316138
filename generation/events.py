"""Wake-ups when a generation changes: one LISTEN connection per process.

Writers call `notify_generation(id)` after their commit (pg_notify on
PostgreSQL; a NOTIFY is an ordinary statement, so it works through PgBouncer). In
each process a `Hub` holds one autocommit connection that LISTENs on the channel
(to `LISTEN_DATABASE_URL` when set: behind a transaction-pooling PgBouncer a LISTEN
must reach PostgreSQL itself), in a daemon thread, and fans every notification out to
the subscriptions of that generation: threads blocked in `get_or_generate`
and SSE clients on an asyncio loop alike. A subscriber holds no database
connection while it waits.

A wake-up only says "look again": the database is the truth. Subscribers
subscribe first and read the row after, so a change committed between the two
is either seen by the read or wakes them. When the listener (re)connects it
wakes every subscriber, so nothing that happened while it was down is lost;
waits are also capped (`MAX_SLICE`) as a last resort. SQLite has no LISTEN:
there, waits are short sleeps and subscribers poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import defaultdict

from django.db import connection

logger = logging.getLogger(__name__)

CHANNEL = "evergreen_generation"
# Longest a subscriber sleeps without re-reading state while the listener is up.
MAX_SLICE = 5.0
# While the listener is down (or on SQLite), subscribers poll at this pace.
POLL_FIRST, POLL_MAX = 0.02, 0.25


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def notify(key: int | str) -> None:
    """Tell every process that the thing named `key` changed (call after commit).
    A generation's key is its id; other apps use their own prefix ("run:<id>")."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(key)])


def notify_generation(generation_id: int) -> None:
    notify(generation_id)


def release_connection() -> None:
    """Give this thread's database connection back before a long wait.

    With the pool it returns to the pool; without it, it is closed and the next
    query reconnects. Inside a transaction nothing is released.
    """
    if is_postgres() and not connection.in_atomic_block:
        connection.close()


def listen_params() -> dict:
    """psycopg.connect() arguments of the listener: LISTEN_DATABASE_URL when set (a
    LISTEN needs a session of its own, which a transaction-pooling PgBouncer in front
    of DATABASE_URL cannot give), else the default database's own."""
    from django.conf import settings

    params = connection.get_connection_params()
    application_name = params.get("application_name")
    if settings.LISTEN_DATABASE_URL:
        params = {"conninfo": settings.LISTEN_DATABASE_URL}
        if application_name:
            params["application_name"] = application_name
        return params
    return {
        k: v
        for k, v in params.items()
        if k not in ("cursor_factory", "context", "prepare_threshold", "pool")
    }


class Subscription:
    """Wake-ups for one generation, for one waiter (a thread or a coroutine)."""

    def __init__(self, hub: Hub, key: str) -> None:
        self.hub = hub
        self.key = key
        self._flag = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._aflag: asyncio.Event | None = None
        self._poll = POLL_FIRST
        # When the last wake-up was sent (monotonic): a read that starts after it
        # sees what caused it, so waiters woken together can share one read.
        self.fired_at = 0.0
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
            self._aflag = asyncio.Event()

    def fire(self, at: float | None = None) -> None:
        loop = self._mark(time.monotonic() if at is None else at)
        if loop is not None:
            _wake_on(loop, [self])

    def _mark(self, at: float) -> asyncio.AbstractEventLoop | None:
        """Record the wake-up; a thread waiter is woken now, a coroutine's loop is
        returned so that the caller wakes all of one loop's waiters in one hand-off."""
        self.fired_at = at
        if self._aflag is None:
            self._flag.set()
            return None
        return self._loop

    def _wake(self) -> None:
        """On the subscription's own loop."""
        if self._aflag is not None:
            self._aflag.set()

    def _slice(self, timeout: float) -> float:
        if self.hub.listening:
            self._poll = POLL_FIRST
            return max(0.0, min(timeout, MAX_SLICE))
        wait = max(0.0, min(timeout, self._poll))
        self._poll = min(self._poll * 2, POLL_MAX)
        return wait

    def wait(self, timeout: float) -> bool:
        """Block until woken or `timeout` (capped) passes; then read the state again."""
        woken = self._flag.wait(self._slice(timeout))
        self._flag.clear()
        return woken

    async def wait_async(self, timeout: float) -> bool:
        """The same for a coroutine; the event loop is never blocked."""
        assert self._aflag is not None, "subscribe from the event loop to wait asynchronously"
        # asyncio.timeout, not wait_for: no task per wait (a wait per client per chunk).
        try:
            async with asyncio.timeout(self._slice(timeout)):
                await self._aflag.wait()
            woken = True
        except TimeoutError:
            woken = False
        self._aflag.clear()
        return woken

    def close(self) -> None:
        self.hub._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Hub:
    """The process-wide listener. Started lazily by the first subscription."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._pid = os.getpid()
        # How many times the listener has connected (a reconnect shows here).
        self.connects = 0

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def subscribe(self, key: int | str) -> Subscription:
        """Subscribe, then read the state: a change after the read wakes the subscriber.
        `key` is what writers pass to `notify` (a generation's id, "run:<id>" …)."""
        self._after_fork()
        sub = Subscription(self, str(key))
        with self._lock:
            self._subs[sub.key].add(sub)
        if is_postgres():
            self._start(listen_params())
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.key]

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subs.values())

    def _after_fork(self) -> None:
        # A forked child (a cluster worker) inherits no running thread: start afresh.
        if self._pid != os.getpid():
            self.__init__()

    def _start(self, params: dict) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, args=(params,), name="evergreen-listener", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener (tests; the process exiting needs nothing)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def _run(self, params: dict) -> None:
        import psycopg

        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connects += 1
                    self._listening.set()
                    backoff = 0.1
                    # Whatever changed while nobody listened: everyone looks again.
                    self._fire_all()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._dispatch(note.payload)
            except Exception as exc:  # any failure of the connection: reconnect
                if self._stop.is_set():
                    break
                logger.warning("generation listener lost its connection (%s); reconnecting", exc)
            finally:
                self._listening.clear()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _dispatch(self, key: str) -> None:
        with self._lock:
            subs = list(self._subs.get(key, ()))
        self._fire(subs)

    def _fire_all(self) -> None:
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        self._fire(subs)

    @staticmethod
    def _fire(subs: list[Subscription]) -> None:
        # One timestamp for the whole wake-up: a read started after it serves them all.
        at = time.monotonic()
        loops: dict[asyncio.AbstractEventLoop, list[Subscription]] = {}
        for sub in subs:
            loop = sub._mark(at)
            if loop is not None:
                loops.setdefault(loop, []).append(sub)
        for loop, waiters in loops.items():
            _wake_on(loop, waiters)


def _wake_on(loop: asyncio.AbstractEventLoop, subs: list[Subscription]) -> None:
    """Wake coroutine waiters from another thread: one call_soon_threadsafe per loop
    (each is a write to the loop's wake-up pipe), not one per waiter, so a chunk
    reaching 500 clients of a worker costs one hand-off."""

    def wake() -> None:
        for sub in subs:
            sub._wake()

    with contextlib.suppress(RuntimeError):  # the loop has closed
        loop.call_soon_threadsafe(wake)


hub = Hub()


def wait_for_listener(timeout: float = 5.0) -> bool:
    """Block until this process's listener is up (tests and benchmarks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.listening:
            return True
        time.sleep(0.01)
    return hub.listening
