"""Retention of what the generation app owns: Chunk, GenerationLog, HitCounter and
Generation rows.

`purge()` is the maintenance job "maintenance: generation retention", scheduled
hourly (task generation.tasks.purge; migrations 0004 and 0007). Every part walks
its table a batch at a time (generation/batches.py, MAINTENANCE_BATCH_SIZE); each
batch is one short statement, or for chunks and generations one short transaction
of a few. The condition is checked again when a batch is deleted, so a row that
changed since it was selected stays. Running it twice deletes nothing the second
time.

Rows are handled the same whichever app asked for them: this module knows the
generation tables only, never a domain app.
"""

import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from generation.batches import Progress, delete_in_batches, walk
from generation.models import Chunk, Generation, GenerationLog, GenerationStatus, HitCounter

FINISHED = (GenerationStatus.COMPLETED, GenerationStatus.FAILED)
DEFAULT_CHUNK_GRACE_MINUTES = 60


@dataclass
class RetentionReport:
    chunks_deleted: int = 0
    logs_deleted: int = 0
    hit_counters_deleted: int = 0
    generations_deleted: int = 0

    @property
    def total(self) -> int:
        return (
            self.chunks_deleted
            + self.logs_deleted
            + self.hit_counters_deleted
            + self.generations_deleted
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def chunk_grace() -> timedelta:
    """How long the chunks of a finished generation are kept (EVERGREEN_CHUNK_GRACE).

    Readers that were following the stream resume from them for a while after the
    end; after that the text on Generation.text is all anyone reads. Without the
    setting: CHUNK_GRACE_MINUTES from the environment, 60 by default.
    """
    grace = getattr(settings, "EVERGREEN_CHUNK_GRACE", None)
    if grace is None:
        minutes = int(os.environ.get("CHUNK_GRACE_MINUTES") or DEFAULT_CHUNK_GRACE_MINUTES)
        grace = timedelta(minutes=minutes)
    return grace


def retention_window() -> timedelta:
    return timedelta(days=settings.EVERGREEN_RETENTION_DAYS)


def _finished_before(before: datetime, *, now: datetime, prefix: str = "") -> Q:
    """A generation that is completed or failed, last changed before `before`, and not
    claimed by anyone (no live lease: a background refresh may be about to start)."""
    p = prefix
    return (
        Q(**{f"{p}status__in": FINISHED})
        & Q(**{f"{p}updated_at__lt": before})
        & (Q(**{f"{p}completed_at__isnull": True}) | Q(**{f"{p}completed_at__lt": before}))
        & (Q(**{f"{p}lease_expires_at__isnull": True}) | Q(**{f"{p}lease_expires_at__lt": now}))
    )


def purge_chunks(*, now: datetime, batch_size: int, progress: Progress | None = None) -> int:
    """Chunks of generations that finished (completed or failed) more than the grace
    ago. Chunks of a pending or streaming generation are never touched, however old:
    the stream is still being written or taken over. A completed generation keeps its
    whole text on Generation.text, so nothing a reader needs goes. The generation's
    stream_start_seq moves past the deleted chunks, so numbering never starts again
    below a seq a reader has seen."""
    before = now - chunk_grace()
    finished = _finished_before(before, now=now)
    gone = Chunk.objects.filter(_finished_before(before, now=now, prefix="generation__"))
    last_seq = Subquery(
        Chunk.objects.filter(generation_id=OuterRef("pk")).order_by("-seq").values("seq")[:1]
    )

    def apply(ids: list[int]) -> int:
        with transaction.atomic():
            # Lock the generations that still qualify (skipping any another process
            # holds, e.g. a stream attempt starting now: streams.start_attempt locks it).
            generation_ids = list(
                Generation.objects.filter(
                    finished, pk__in=Chunk.objects.filter(pk__in=ids).values("generation_id")
                )
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            if not generation_ids:
                return 0
            # Numbering goes on after the deleted chunks: should the generation be
            # streamed again (a refresh, or a failed one taken over), its next attempt
            # starts above every seq a reader may have seen.
            Generation.objects.filter(pk__in=generation_ids, stream_start_seq__lte=last_seq).update(
                stream_start_seq=last_seq + 1
            )
            return Chunk.objects.filter(pk__in=ids, generation_id__in=generation_ids).delete()[0]

    return walk(gone, apply, batch_size=batch_size, label="chunks: retention", progress=progress)


def purge_logs(*, now: datetime, batch_size: int, progress: Progress | None = None) -> int:
    """GenerationLog rows older than the retention window (EVERGREEN_RETENTION_DAYS)."""
    old = GenerationLog.objects.filter(created_at__lt=now - retention_window())
    return delete_in_batches(old, batch_size=batch_size, label="logs: retention", progress=progress)


def purge_hit_counters(*, now: datetime, batch_size: int, progress: Progress | None = None) -> int:
    """HitCounter rows of days before the retention window."""
    first_day = timezone.localdate(now) - retention_window()
    old = HitCounter.objects.filter(day__lt=first_day)
    return delete_in_batches(
        old, batch_size=batch_size, label="hit counters: retention", progress=progress
    )


def superseded_generations(*, now: datetime) -> QuerySet:
    """The Generation rows retention deletes.

    A Generation is the cache entry of its key and, when it is the newest completed
    one of its (kind, scope), the content served when the provider is down or the
    budget is spent (flight._fallback_or_raise). A row goes only when all hold:

    - it is completed or failed, so no caller is producing it (never pending or
      streaming), and no one holds a live lease on it (no refresh is starting);
    - it last changed (updated_at, and completed_at if set) before the retention
      window (EVERGREEN_RETENTION_DAYS);
    - it is failed, or a newer completed Generation of the same (kind, scope) exists:
      the newest completed one of every (kind, scope) is kept however old, so a
      fallback always has the last good content.

    Foreign keys to Generation are SET_NULL (GenerationLog.generation and the domain
    apps' rows, which keep their own copy of the content and its provenance) or
    CASCADE (Chunk), so deleting a row never deletes or breaks a row of another app:
    its link becomes empty. A superseded key that is asked for again after the window
    (inputs or a prompt rolled back to what they were months ago) is generated once
    more.
    """
    newer_completed = Generation.objects.filter(
        kind=OuterRef("kind"), scope=OuterRef("scope"), status=GenerationStatus.COMPLETED
    ).filter(
        Q(completed_at__gt=OuterRef("completed_at"))
        | Q(completed_at=OuterRef("completed_at"), pk__gt=OuterRef("pk"))
    )
    return Generation.objects.filter(
        _finished_before(now - retention_window(), now=now),
        Q(status=GenerationStatus.FAILED) | Q(Exists(newer_completed)),
    )


def purge_generations(
    *,
    now: datetime,
    batch_size: int,
    report: RetentionReport,
    progress: Progress | None = None,
) -> int:
    """Delete superseded_generations() a batch at a time, each batch in one short
    transaction: lock the rows that still qualify (skipping any row another process
    holds), then delete them (their chunks go with them, links to them are emptied)."""
    gone = superseded_generations(now=now)

    def apply(ids: list[int]) -> int:
        with transaction.atomic():
            locked = list(
                gone.filter(pk__in=ids)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            if not locked:
                return 0
            _, per_model = Generation.objects.filter(pk__in=locked).only("pk").delete()
        report.chunks_deleted += per_model.get(Chunk._meta.label, 0)
        return per_model.get(Generation._meta.label, 0)

    return walk(
        gone, apply, batch_size=batch_size, label="generations: retention", progress=progress
    )


def purge(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> RetentionReport:
    """Delete what generation no longer needs: chunks of finished generations past the
    grace, logs and hit counters past the retention window, and superseded
    generations past the window (see superseded_generations for the rule).

    Idempotent: a second run with the same `now` deletes nothing.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.MAINTENANCE_BATCH_SIZE
    report = RetentionReport()
    batches = {"now": now, "batch_size": batch_size, "progress": progress}
    report.chunks_deleted = purge_chunks(**batches)
    report.logs_deleted = purge_logs(**batches)
    report.hit_counters_deleted = purge_hit_counters(**batches)
    report.generations_deleted = purge_generations(**batches, report=report)
    return report
