"""Cache-hit counters that cost a read nothing: counted in memory, written behind.

`record_hit()` adds to a tally in process memory (generation/writebehind.py) and
returns; the write-behind flush writes the whole batch as one statement:

    INSERT INTO generation_hitcounter (day, kind, company_id, hits) VALUES ..., ...
    ON CONFLICT (day, kind, COALESCE(company_id, 0)) DO UPDATE SET hits = hits + EXCLUDED.hits

on the unique key of HitCounter. The rows of the batch are sorted by key, so two
processes flushing at the same time lock the same rows in the same order and
cannot deadlock; each key has exactly one row, so a count is added once.
"""

import logging
from collections.abc import Hashable

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from generation.models import HitCounter
from generation.writebehind import Pending, Tally

logger = logging.getLogger(__name__)

HIT_FIELDS = ("day", "kind", "company", "hits")


def write_hits(pending: dict[Hashable, Pending]) -> int:
    """One INSERT ... ON CONFLICT DO UPDATE for all the (day, kind, company_id) keys,
    sorted by key; returns the hits written (0 when the write failed: lost, logged)."""
    rows = sorted(
        ((day, kind, company_id, p.count) for (day, kind, company_id), p in pending.items()),
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


_hits = Tally(write_hits)


def record_hit(*, kind: str, company_id: int | None, count: int = 1) -> None:
    """Count `count` cache hits; written by the next flush, never now."""
    if count > 0:
        _hits.add((timezone.localdate(), kind, company_id), count)
