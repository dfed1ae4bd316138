"""Cache-hit counters that cost one write per request, not one per item read.

Inside `hit_batch()` (opened per request by HitCounterMiddleware) hits are
added up in memory and written when the batch closes, one UPDATE per
(day, kind, company). Outside a batch each hit is written at once.
"""

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from generation.models import HitCounter

logger = logging.getLogger(__name__)

_batch: ContextVar[Counter | None] = ContextVar("evergreen_hit_batch", default=None)


def record_hit(*, kind: str, company_id: int | None, count: int = 1) -> None:
    key = (timezone.localdate(), kind, company_id)
    batch = _batch.get()
    if batch is None:
        flush_hits(Counter({key: count}))
    else:
        batch[key] += count


@contextmanager
def hit_batch() -> Iterator[Counter]:
    outer = _batch.get()
    if outer is not None:  # nested: the outer batch writes
        yield outer
        return
    counts: Counter = Counter()
    token = _batch.set(counts)
    try:
        yield counts
    finally:
        _batch.reset(token)
        flush_hits(counts)


def flush_hits(counts: Counter) -> None:
    """Write the counts; a failure loses them but never fails the read that made them."""
    for (day, kind, company_id), count in counts.items():
        if count <= 0:
            continue
        try:
            with transaction.atomic():
                updated = HitCounter.objects.filter(
                    day=day, kind=kind, company_id=company_id
                ).update(hits=F("hits") + count)
                if not updated:
                    HitCounter.objects.create(day=day, kind=kind, company_id=company_id, hits=count)
        except DatabaseError:
            logger.warning("could not record %s cache hits for %s", count, kind, exc_info=True)
