"""Showing content: the one lifecycle write of a read, and counts written behind."""

import logging
import threading
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from generation.hits import ensure_flusher, register_flusher
from recommendations.lifecycle import Status, presented_status
from recommendations.models import GeneratedContent

logger = logging.getLogger(__name__)

# Showings not yet written: (model, pk) -> [count, last time]. Written by the
# write-behind flush of generation.hits (every HIT_FLUSH_SECONDS, and at exit).
_presented: dict[tuple[type, int], list] = {}
_presented_lock = threading.Lock()


def present(*, rows: Sequence[GeneratedContent]) -> set[int]:
    """Record that these rows were shown, without writing on the read's path.

    The lifecycle's fresh -> active edge is the one write: it happens once in a row's
    life, at its first showing, in one conditional UPDATE for the page that returns the
    rows it changed; only the request that changed a row reports it new (the pks
    returned), and the change never waits for a flush that could be lost. Every other
    showing (`times_presented`, `last_presented_at`) is counted in memory and written
    once per row and flush interval by flush_presentations(). The rows' own fields are
    brought up to date with what is (or will be) written.
    """
    if not rows:
        return set()
    model = type(rows[0])
    now = timezone.now()
    fresh = [row.pk for row in rows if row.status == Status.FRESH]
    made_active = _activate(model, fresh, now) if fresh else set()
    with _presented_lock:
        for row in rows:
            if row.status == Status.FRESH:
                row.status = presented_status(row.status)
            if row.pk in made_active:
                row.times_presented += 1  # written by _activate
            else:
                entry = _presented.setdefault((model, row.pk), [0, now])
                entry[0] += 1
                entry[1] = now
                row.times_presented += entry[0]
            row.last_presented_at = now
    ensure_flusher()
    return made_active


def _activate(model: type[GeneratedContent], pks: list[int], now) -> set[int]:
    """fresh -> active for those of `pks` still fresh, counted as their first showing;
    returns the pks this call changed."""
    table = connection.ops.quote_name(model._meta.db_table)
    placeholders = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, last_presented_at = %s, "
            "times_presented = times_presented + 1 "
            f"WHERE id IN ({placeholders}) AND status = %s RETURNING id",
            [Status.ACTIVE, now, *sorted(pks), Status.FRESH],
        )
        return {pk for (pk,) in cursor.fetchall()}


def flush_presentations() -> int:
    """Write the pending showings: per model, one UPDATE per distinct count (usually
    one), ids in order. A failure loses that interval's showings (logged)."""
    with _presented_lock:
        pending = dict(_presented)
        _presented.clear()
    groups: dict[tuple[type, int], tuple[list[int], Any]] = {}
    for (model, pk), (count, at) in pending.items():
        ids, latest = groups.get((model, count), ([], at))
        ids.append(pk)
        groups[(model, count)] = (ids, max(latest, at))
    written = 0
    for (model, count), (ids, at) in sorted(
        groups.items(), key=lambda g: (g[0][0].__name__, g[0][1])
    ):
        try:
            written += model.objects.filter(pk__in=sorted(ids)).update(
                times_presented=F("times_presented") + count,
                last_presented_at=Greatest(Coalesce(F("last_presented_at"), Value(at)), Value(at)),
            )
        except DatabaseError:
            logger.warning(
                "could not record %s showings of %s", len(ids), model.__name__, exc_info=True
            )
    return written


def discard_presentations() -> None:
    with _presented_lock:
        _presented.clear()


register_flusher(flush_presentations)
