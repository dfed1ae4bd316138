"""Write-behind counts (generation/writebehind.py): a read writes nothing, a flush
writes each group once, and a failed flush loses its counts without reaching a
reader. The showings of recommendations are the row counts exercised here."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generation.writebehind import flush_now
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import Recommendation
from tests.recommendations.builders import make_recommendation

pytestmark = pytest.mark.django_db


def _shown(company, count: int, *, status=Status.ACTIVE) -> list[Recommendation]:
    return [
        make_recommendation(company=company, context_hash="c" * 64, status=status)
        for _ in range(count)
    ]


def test_rows_shown_a_different_number_of_times_are_one_update_per_count(company):
    once, twice = _shown(company, 2), _shown(company, 3)
    services.present(rows=once)
    services.present(rows=twice)
    services.present(rows=twice)

    with CaptureQueriesContext(connection) as ctx:
        assert flush_now() == 2 * 1 + 3 * 2

    updates = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 2
    counts = dict(Recommendation.objects.values_list("pk", "times_presented"))
    assert [counts[r.pk] for r in once + twice] == [1, 1, 2, 2, 2]


def test_a_flush_never_moves_the_last_showing_back(company):
    [row] = _shown(company, 1)
    later = timezone.now() + timedelta(hours=1)
    Recommendation.objects.filter(pk=row.pk).update(last_presented_at=later)

    services.present(rows=[row])
    flush_now()

    row.refresh_from_db()
    assert (row.times_presented, row.last_presented_at) == (1, later)


def _database_away(*args, **kwargs):
    raise DatabaseError("the database is away")


def test_a_failed_flush_loses_its_showings_and_the_next_one_writes_only_its_own(
    company, monkeypatch, caplog
):
    [row] = _shown(company, 1)
    services.present(rows=[row])
    with monkeypatch.context() as patch:
        patch.setattr("django.db.backends.utils.CursorWrapper.execute", _database_away)
        assert flush_now() == 0
    assert "could not write 1 x times_presented of 1 rows of Recommendation" in caplog.text

    [shown] = Recommendation.objects.filter(pk=row.pk)
    services.present(rows=[shown])  # a read after the failure is served as ever
    assert shown.times_presented == 1
    assert flush_now() == 1
    assert Recommendation.objects.get(pk=row.pk).times_presented == 1
