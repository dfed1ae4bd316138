"""Showing content: the one lifecycle write of a read, and counts written behind."""

from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from generation.writebehind import RowCounts
from recommendations.lifecycle import Status, presented_status
from recommendations.models import GeneratedContent

# Showings not yet written, per (model, pk): counted by present(), written by the
# write-behind flush (generation/writebehind.py: every HIT_FLUSH_SECONDS, and at exit).
_showings = RowCounts(count_field="times_presented", at_field="last_presented_at")


def present(*, rows: Sequence[GeneratedContent]) -> set[int]:
    """Record that these rows were shown, without writing on the read's path.

    The lifecycle's fresh -> active edge is the one write: it happens once in a row's
    life, at its first showing, in one conditional UPDATE for the page that returns the
    rows it changed; only the request that changed a row reports it new (the pks
    returned), and the change never waits for a flush that could be lost. Every other
    showing (`times_presented`, `last_presented_at`) is counted in memory and written
    once per row and flush interval. The rows' own fields are brought up to date with
    what is (or will be) written.
    """
    if not rows:
        return set()
    model = type(rows[0])
    now = timezone.now()
    fresh = [row.pk for row in rows if row.status == Status.FRESH]
    made_active = _activate(model, fresh, now) if fresh else set()
    for row in rows:
        if row.status == Status.FRESH:
            row.status = presented_status(row.status)
        if row.pk in made_active:
            row.times_presented += 1  # written by _activate
        else:
            # Stored count plus this process's pending ones, this showing included.
            row.times_presented += _showings.add((model, row.pk), at=now)
        row.last_presented_at = now
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
