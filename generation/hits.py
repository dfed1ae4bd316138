"""Cache-hit counters that cost a read nothing: write-behind, once per interval.

`record_hit()` adds to a counter in process memory and returns; nothing is written
on the read's path. A daemon thread per process (started on the first hit) writes
the counts every `HIT_FLUSH_SECONDS` (5 s), and once more when the process exits
(atexit), as one statement for the whole batch:

    INSERT INTO generation_hitcounter (day, kind, company_id, hits) VALUES ..., ...
    ON CONFLICT (day, kind, COALESCE(company_id, 0)) DO UPDATE SET hits = hits + EXCLUDED.hits

on the unique key of HitCounter. The rows of the batch are sorted by key, so two
processes flushing at the same time lock the same rows in the same order and
cannot deadlock; each key has exactly one row, so a count is added once. A flush
that fails (database down) loses that interval's counts, logged, and never
reaches a reader.

Other write-behind buffers (the recommendations' presentation bookkeeping) register
a flusher with `register_flusher()` and are written by the same thread.
`flush_now()` writes everything at once: tests call it to make the counts
deterministic. With `HIT_FLUSH_SECONDS = 0` no thread is started (the test
settings): counts wait for `flush_now()` or the process exit.
"""

import atexit
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from generation.models import HitCounter

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pending: Counter = Counter()
_flushers: list[Callable[[], None]] = []
_thread: threading.Thread | None = None
_stop = threading.Event()
_atexit_registered = False


def record_hit(*, kind: str, company_id: int | None, count: int = 1) -> None:
    """Count `count` cache hits; written by the next flush, never now."""
    if count <= 0:
        return
    key = (timezone.localdate(), kind, company_id)
    with _lock:
        _pending[key] += count
    ensure_flusher()


def pending_hits() -> dict:
    with _lock:
        return dict(_pending)


def register_flusher(flusher: Callable[[], None]) -> None:
    """Have `flusher()` called at each flush (after the hit counts). It must catch its
    own database errors; an exception is logged and the next flusher still runs."""
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
            target=_run, args=(interval,), name="evergreen-hit-flush", daemon=True
        )
        _thread.start()


def _run(interval: float) -> None:
    while not _stop.wait(interval):
        try:
            flush_now()
        except Exception:  # keep the thread alive whatever happens
            logger.warning("cache-hit flush failed", exc_info=True)
        finally:
            # The thread's connection goes back to the pool (or is closed) between flushes.
            connection.close()


def _flush_at_exit() -> None:
    _stop.set()
    try:
        flush_now()
    except Exception:  # the interpreter is going away: never raise from atexit
        logger.warning("could not flush cache-hit counts at exit", exc_info=True)


def flush_now() -> int:
    """Write every pending count and run the registered flushers; returns the hits
    written (0 when the write failed: those counts are lost, and logged)."""
    with _lock:
        counts = Counter({key: n for key, n in _pending.items() if n > 0})
        _pending.clear()
        flushers = list(_flushers)
    written = write_hits(counts)
    for flusher in flushers:
        try:
            flusher()
        except Exception:
            logger.warning("write-behind flush %r failed", flusher, exc_info=True)
    return written


def discard_pending() -> None:
    """Forget what is pending (a test starting from a clean slate)."""
    with _lock:
        _pending.clear()


def write_hits(counts: Counter) -> int:
    """One INSERT ... ON CONFLICT DO UPDATE for all the keys, sorted by key."""
    rows = sorted(
        ((day, kind, company_id, n) for (day, kind, company_id), n in counts.items() if n > 0),
        key=lambda row: (row[0], row[1], row[2] or 0),
    )
    if not rows:
        return 0
    quote = connection.ops.quote_name
    meta = HitCounter._meta
    table = quote(meta.db_table)
    day, kind, company, hits = (quote(meta.get_field(f).column) for f in HIT_FIELDS)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    sql = (
        f"INSERT INTO {table} ({day}, {kind}, {company}, {hits}) VALUES {values} "
        f"ON CONFLICT ({day}, {kind}, COALESCE({company}, 0)) "
        f"DO UPDATE SET {hits} = {table}.{hits} + EXCLUDED.{hits}"
    )
    params = [value for row in rows for value in row]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        logger.warning(
            "could not record %s cache hits (%s keys): lost",
            sum(n for *_, n in rows),
            len(rows),
            exc_info=True,
        )
        return 0
    return sum(n for *_, n in rows)


HIT_FIELDS = ("day", "kind", "company", "hits")


def _reset_after_fork() -> None:
    """A forked child (the Django-Q2 cluster) starts with nothing pending and no thread:
    the parent writes its own counts."""
    global _lock, _thread, _stop
    _lock = threading.Lock()
    _pending.clear()
    _thread = None
    _stop = threading.Event()


os.register_at_fork(after_in_child=_reset_after_fork)
