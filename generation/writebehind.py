"""Write-behind counts: a read counts in process memory, a flush writes later.

A read that counts something (a cache hit, a showing of a row) adds to a `Tally`
and returns: nothing is written on the read's path. A daemon thread per process
(started by the first count) flushes every `HIT_FLUSH_SECONDS` (5 s), and once more
when the process exits (atexit). At a flush each tally hands what it holds to its
writer, which writes it as one statement per key or group, in key order, so two
processes flushing at the same time lock the same rows in the same order and cannot
deadlock. A write that fails (database down) loses that interval's counts, logged,
and never reaches a reader.

`flush_now()` writes everything at once: tests call it to make the counts
deterministic. With `HIT_FLUSH_SECONDS = 0` no thread is started (the test
settings): counts wait for `flush_now()` or the process exit. A forked child (the
Django-Q2 cluster) starts with nothing pending and no thread: the parent writes its
own counts.
"""

import atexit
import logging
import os
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_flushers: list[Callable[[], int | None]] = []
_tallies: list["Tally"] = []
_thread: threading.Thread | None = None
_stop = threading.Event()
_atexit_registered = False


@dataclass(slots=True)
class Pending:
    """What a key has gathered since the last flush."""

    count: int = 0
    at: datetime | None = None  # the latest time it was counted, for writers that keep one


class Tally:
    """Pending increments per key, written at each flush by `write(pending)`, which
    returns the increments it wrote and catches its own database errors."""

    def __init__(self, write: Callable[[dict[Hashable, Pending]], int]) -> None:
        self.write = write
        self._lock = threading.Lock()
        self._pending: dict[Hashable, Pending] = {}
        with _lock:
            _tallies.append(self)
        register_flusher(self.flush)
        os.register_at_fork(after_in_child=self._forget)

    def add(self, key: Hashable, count: int = 1, *, at: datetime | None = None) -> int:
        """Count `count` for `key`; returns the key's pending count, this one included."""
        with self._lock:
            pending = self._pending.setdefault(key, Pending())
            pending.count += count
            if at is not None and (pending.at is None or at > pending.at):
                pending.at = at
            total = pending.count
        ensure_flusher()
        return total

    def take(self) -> dict[Hashable, Pending]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def flush(self) -> int:
        return self.write(self.take())

    def _forget(self) -> None:
        # A lock held by another thread at the fork would never be released in the child.
        self._lock = threading.Lock()
        self._pending = {}


def register_flusher(flusher: Callable[[], int | None]) -> None:
    """Have `flusher()` called at each flush. It must catch its own database errors;
    an exception is logged and the next flusher still runs."""
    with _lock:
        if flusher not in _flushers:
            _flushers.append(flusher)


def ensure_flusher() -> None:
    """Start this process's flush thread (once) and the exit flush."""
    global _thread, _atexit_registered
    if _thread is not None and _thread.is_alive():
        return
    with _lock:
        if not _atexit_registered:
            atexit.register(_flush_at_exit)
            _atexit_registered = True
        interval = float(getattr(settings, "HIT_FLUSH_SECONDS", 5.0))
        if interval <= 0 or (_thread is not None and _thread.is_alive()):
            return
        _stop.clear()
        _thread = threading.Thread(
            target=_run, args=(interval,), name="evergreen-write-behind", daemon=True
        )
        _thread.start()


def _run(interval: float) -> None:
    while not _stop.wait(interval):
        try:
            flush_now()
        except Exception:  # keep the thread alive whatever happens
            logger.warning("write-behind flush failed", exc_info=True)
        finally:
            # The thread's connection goes back to the pool (or is closed) between flushes.
            connection.close()


def _flush_at_exit() -> None:
    _stop.set()
    try:
        flush_now()
    except Exception:  # the interpreter is going away: never raise from atexit
        logger.warning("could not flush the write-behind counts at exit", exc_info=True)


def flush_now() -> int:
    """Run every flusher; returns the increments written (0 when nothing was pending
    or the writes failed: those counts are lost, and logged)."""
    with _lock:
        flushers = list(_flushers)
    written = 0
    for flusher in flushers:
        try:
            written += flusher() or 0
        except Exception:
            logger.warning("write-behind flush %r failed", flusher, exc_info=True)
    return written


def discard_pending() -> None:
    """Forget every tally's pending counts (a test starting from a clean slate)."""
    with _lock:
        tallies = list(_tallies)
    for tally in tallies:
        tally.take()


class RowCounts(Tally):
    """A tally keyed by (model, pk), each count given its time (`add(key, at=...)`),
    written as `count_field + n` and `at_field` moved to the latest time, never back:
    per model one UPDATE per distinct count (usually one), ids in order. A failed
    UPDATE loses its group's counts (logged)."""

    def __init__(self, *, count_field: str, at_field: str) -> None:
        self.count_field, self.at_field = count_field, at_field
        super().__init__(self.write_rows)

    def write_rows(self, pending: dict[Hashable, Pending]) -> int:
        groups: dict[tuple[type, int], tuple[list[int], datetime]] = {}
        for (model, pk), entry in pending.items():
            ids, latest = groups.get((model, entry.count), ([], entry.at))
            ids.append(pk)
            groups[(model, entry.count)] = (ids, max(latest, entry.at))
        written = 0
        for (model, count), (ids, at) in sorted(
            groups.items(), key=lambda group: (group[0][0].__name__, group[0][1])
        ):
            try:
                # Its own transaction (a savepoint inside one): a failure spoils no other.
                with transaction.atomic():
                    rows = model.objects.filter(pk__in=sorted(ids)).update(
                        **{
                            self.count_field: F(self.count_field) + count,
                            self.at_field: Greatest(
                                Coalesce(F(self.at_field), Value(at)), Value(at)
                            ),
                        }
                    )
            except DatabaseError:
                logger.warning(
                    "could not write %s x %s of %s rows of %s: lost",
                    count,
                    self.count_field,
                    len(ids),
                    model.__name__,
                    exc_info=True,
                )
                continue
            written += rows * count
        return written


def _reset_after_fork() -> None:
    global _lock, _thread, _stop
    _lock = threading.Lock()
    _thread = None
    _stop = threading.Event()


os.register_at_fork(after_in_child=_reset_after_fork)
