"""Deliverables: raw content in, a display version made once, kept, and served many times.

The listing is cache-first on the deliverable row: a display made from the
current content (display_source_hash == content_hash) is served as is, with
no provider call and no Generation lookup. Completed deliverables without a
current display are transformed through get_or_generate, at most
AI_TRANSFORM_MAX_BATCH per request, concurrently, each waited for at most
AI_TRANSFORM_TIMEOUT seconds; the rest are queued as Django-Q2 tasks.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import pydantic
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from deliverables.models import (
    Deliverable,
    DeliverableStatus,
    DisplayFormat,
    TransformationStatus,
    Workspace,
    source_hash,
)
from deliverables.schemas import DeliverableDisplay
from generation.errors import BudgetExceeded, PromptMissing, ProviderUnavailable
from generation.flight import Source, get_or_generate
from generation.hashing import canonical_json
from generation.hits import record_hit
from generation.models import IN_PROGRESS, Generation, Prompt
from generation.prompts import active_prompt, prompt_context_hash
from generation.rendering import clean_html
from generation.throttles import charge_generation

logger = logging.getLogger(__name__)

KIND = "deliverable_display"
PROMPT_KEY = "deliverable-display"
TASK = "deliverables.tasks.transform"
# A queued deliverable is not queued again for this long; past it, a lost task
# (cluster down, broker wiped) no longer blocks the deliverable.
QUEUED_LEASE = timedelta(minutes=5)


# --- results --------------------------------------------------------------------------


@dataclass
class CacheStats:
    """What one listing request did; `calls_saved` counts provider calls not made."""

    cached: int = 0
    transformed: int = 0
    queued: int = 0
    pending: int = 0
    failed: int = 0

    @property
    def calls_saved(self) -> int:
        return self.cached

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "calls_saved": self.calls_saved}


@dataclass
class Listing:
    rows: list[dict[str, Any]]
    stats: CacheStats = field(default_factory=CacheStats)


@dataclass
class TransformOutcome:
    """`source` is a generation Source value, or "failed" / "skipped"."""

    source: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    """A snapshot of what one transformation is made from."""

    deliverable_id: int
    title: str
    content: Any
    content_hash: str
    company_id: int

    @property
    def scope(self) -> str:
        return f"deliverable:{self.deliverable_id}"

    @property
    def inputs(self) -> dict[str, str]:
        return display_inputs(title=self.title, content=self.content)


def display_inputs(*, title: str, content: Any) -> dict[str, str]:
    return {"title": title, "content_json": canonical_json(content)}


# --- writes ---------------------------------------------------------------------------


def create_deliverable(
    *,
    workspace: Workspace,
    title: str,
    content: Any,
    status: str = DeliverableStatus.DRAFT,
) -> Deliverable:
    return Deliverable.objects.create(
        workspace=workspace, title=title, content=content, status=status
    )


def update_deliverable(
    *,
    deliverable: Deliverable,
    title: str | None = None,
    content: Any = None,
    status: str | None = None,
) -> Deliverable:
    """Edit a deliverable. A new title or raw content makes its display stale (the
    hashes differ);
    the display is transformed again, once, on the next read or by a queued task."""
    with transaction.atomic():
        row = Deliverable.objects.select_for_update().get(pk=deliverable.pk)
        if title is not None:
            row.title = title
        if status is not None:
            row.status = status
        if content is not None:
            row.content = content
        # The title is in the prompt too: either change makes the display stale.
        if (
            source_hash(title=row.title, content=row.content) != row.content_hash
            and row.content_transformation_status == TransformationStatus.SUCCESS
        ):
            row.content_transformation_status = TransformationStatus.STALE
        row.updated_at = timezone.now()
        row.save()
    return row


def clear_display(*, deliverable_ids: list[int]) -> int:
    """Forget the display; the next read (or a re-transform) makes it again."""
    return Deliverable.objects.filter(pk__in=deliverable_ids).update(
        display_content="",
        display_format=DisplayFormat.HTML,
        display_source_hash="",
        transformation_timestamp=None,
        display_quality_score=None,
        ai_confidence=None,
        auto_display_generated=False,
        content_transformation_status=TransformationStatus.NONE,
        transform_queued_at=None,
    )


def queue_transforms(*, deliverable_ids: list[int], force: bool = False) -> list[int]:
    """Queue one transform task per deliverable not already queued; returns those queued.

    The rows are claimed (status pending, queued_at now) in one conditional
    UPDATE under row locks, so two requests never queue the same deliverable.
    After the commit their tasks are queued in one round trip to the broker
    (tasks.enqueue_transforms); when that fails, the failure is logged and the
    claims are released, so the next read queues them again.
    """
    if not deliverable_ids:
        return []
    now = timezone.now()
    with transaction.atomic():
        claimable = list(
            Deliverable.objects.select_for_update(skip_locked=True)
            .filter(pk__in=deliverable_ids)
            .exclude(
                content_transformation_status=TransformationStatus.PENDING,
                transform_queued_at__gt=now - QUEUED_LEASE,
            )
            .values_list("pk", flat=True)
        )
        Deliverable.objects.filter(pk__in=claimable).update(
            content_transformation_status=TransformationStatus.PENDING, transform_queued_at=now
        )
        if claimable:
            transaction.on_commit(_enqueue_hook(sorted(claimable), force=force, queued_at=now))
    return claimable


def _enqueue_hook(deliverable_ids: list[int], *, force: bool, queued_at):
    """The on_commit hook that queues the claimed rows. It never raises: an error in a
    hook would fail the request that committed and skip the hooks after it."""

    def enqueue_claimed() -> None:
        from deliverables import tasks

        try:
            tasks.enqueue_transforms(deliverable_ids, force=force)
        except Exception:
            logger.exception(
                "could not queue %s deliverable transforms (%s...): claims released",
                len(deliverable_ids),
                deliverable_ids[:5],
            )
            _release_claims(deliverable_ids=deliverable_ids, queued_at=queued_at)

    return enqueue_claimed


def _release_claims(*, deliverable_ids: list[int], queued_at) -> None:
    """Give back the claims this request made (not a later one's)."""
    try:
        Deliverable.objects.filter(
            pk__in=deliverable_ids,
            content_transformation_status=TransformationStatus.PENDING,
            transform_queued_at=queued_at,
        ).update(
            content_transformation_status=Case(
                When(display_content="", then=Value(TransformationStatus.NONE)),
                When(
                    display_source_hash=F("content_hash"),
                    then=Value(TransformationStatus.SUCCESS),
                ),
                default=Value(TransformationStatus.STALE),
            ),
            transform_queued_at=None,
        )
    except Exception:
        # The database is down too: the claims lapse after QUEUED_LEASE.
        logger.exception("could not release %s deliverable claims", len(deliverable_ids))


# --- the transformation ---------------------------------------------------------------


def transform_deliverable(*, deliverable_id: int, force: bool = False) -> TransformOutcome | None:
    """The queued task's body: load by id, transform unless the display is current.
    Safe to run twice: the second run finds the display current (or the Generation
    cached) and makes no provider call."""
    row = (
        Deliverable.objects.filter(pk=deliverable_id)
        .values(
            "pk",
            "title",
            "content",
            "content_hash",
            "status",
            "display_content",
            "display_source_hash",
            "display_prompt_id",
            "workspace__company_id",
        )
        .first()
    )
    if row is None:
        return None
    active = Prompt.objects.filter(key=PROMPT_KEY, is_active=True).values_list("pk", flat=True)
    row["active_prompt_id"] = active.first()
    current = is_current(row)
    if row["status"] != DeliverableStatus.COMPLETED or (current and not force):
        _release_claim(deliverable_id=deliverable_id)
        return TransformOutcome("skipped")
    job = _Job(
        deliverable_id=row["pk"],
        title=row["title"],
        content=row["content"],
        content_hash=row["content_hash"],
        company_id=row["workspace__company_id"],
    )
    return _transform(job)


def _transform(job: _Job) -> TransformOutcome:
    """One transformation = at most one provider call (get_or_generate single-flights it)."""
    written: dict[str, Any] = {}

    def on_result(generation: Generation) -> None:
        # Inside the write-through transaction: display, generation and log commit together.
        written.update(
            _apply_display(job=job, content=generation.result, prompt_id=generation.prompt_id)
        )

    try:
        result = get_or_generate(
            kind=KIND,
            scope=job.scope,
            prompt_key=PROMPT_KEY,
            inputs=job.inputs,
            company_id=job.company_id,
            on_result=on_result,
        )
    except (ProviderUnavailable, BudgetExceeded) as exc:
        return TransformOutcome("failed", _mark_failed(job=job, error=str(exc)))
    if result.source == Source.FALLBACK:
        # The last good content was made from other inputs: not this content's display.
        return TransformOutcome("failed", _mark_failed(job=job, error=result.error))
    if result.source == Source.GENERATED and written:
        return TransformOutcome(Source.GENERATED, written)
    # Cached or shared (or our lease was lost to another caller): 0 calls of ours,
    # the display is written from the stored generation.
    return TransformOutcome(
        result.source,
        _apply_display(job=job, content=result.content, prompt_id=result.generation.prompt_id),
    )


def _apply_display(*, job: _Job, content: Any, prompt_id: int | None) -> dict[str, Any]:
    """Write the display if the content is still the one it was made from."""
    try:
        display = DeliverableDisplay.model_validate(content)
    except pydantic.ValidationError as exc:
        return _mark_failed(job=job, error=f"invalid display: {exc}")
    if display.display_format == DisplayFormat.HTML:
        text = clean_html(display.display_content)
    else:
        # Markdown is kept as written; every render path runs render_markdown (cleaned).
        text = display.display_content
    if not text.strip():
        return _mark_failed(job=job, error="empty display")
    fields = {
        "display_content": text,
        "display_format": display.display_format,
        "display_quality_score": _unit(display.display_quality_score),
        "ai_confidence": _unit(display.ai_confidence),
        "auto_display_generated": True,
        "transformation_timestamp": timezone.now(),
        "content_transformation_status": TransformationStatus.SUCCESS,
        "display_source_hash": job.content_hash,
        "display_prompt_id": prompt_id,
        "transform_queued_at": None,
    }
    updated = Deliverable.objects.filter(
        pk=job.deliverable_id, content_hash=job.content_hash
    ).update(**fields)
    return fields if updated else {}


def _mark_failed(*, job: _Job, error: str) -> dict[str, Any]:
    logger.warning("deliverable %s: transformation failed: %s", job.deliverable_id, error)
    fields = {
        "content_transformation_status": TransformationStatus.FAILED,
        "transform_queued_at": None,
    }
    updated = Deliverable.objects.filter(
        pk=job.deliverable_id, content_hash=job.content_hash
    ).update(**fields)
    return fields if updated else {}


def _release_claim(*, deliverable_id: int) -> None:
    """A queued deliverable that needs no transform goes back to its real status."""
    Deliverable.objects.filter(
        pk=deliverable_id, content_transformation_status=TransformationStatus.PENDING
    ).update(
        content_transformation_status=Case(
            When(display_content="", then=Value(TransformationStatus.NONE)),
            When(display_source_hash=F("content_hash"), then=Value(TransformationStatus.SUCCESS)),
            default=Value(TransformationStatus.STALE),
        ),
        transform_queued_at=None,
    )


def _unit(value: float) -> float:
    """Models report 0-1 or 0-100; stored as 0-1."""
    if value > 1:
        value = value / 100
    return round(min(max(value, 0.0), 1.0), 4)


def _transform_in_thread(job: _Job) -> TransformOutcome:
    try:
        return _transform(job)
    finally:
        # Each worker thread opened its own connection; do not leak it.
        connection.close()


# --- the cache-first listing ----------------------------------------------------------


def is_current(row: dict[str, Any]) -> bool:
    """Made from this title and content, by the active version of the display prompt
    (a rollback makes an earlier display current again: served with 0 calls). With
    no active version at all, a stored display is still served."""
    active = row["active_prompt_id"]
    return (
        bool(row["display_content"])
        and row["display_source_hash"] == row["content_hash"]
        and (active is None or row["display_prompt_id"] == active)
    )


def serve_deliverables(*, workspace: Workspace, rows: list[dict[str, Any]]) -> Listing:
    """Serve the listed rows (dicts from selectors.deliverable_page), transforming or
    queueing the completed ones whose display is not current. The rows are updated
    in place with what was written. All cached: no query at all."""
    listing = Listing(rows=rows)
    stats = listing.stats
    now = timezone.now()
    needing = []
    for row in rows:
        if row["status"] != DeliverableStatus.COMPLETED:
            continue
        if is_current(row):
            stats.cached += 1
        elif _queued(row, now):
            stats.pending += 1
        else:
            needing.append(row)
    if needing:
        _transform_or_queue(workspace=workspace, rows=needing, stats=stats, now=now)
    if stats.cached:
        record_hit(kind=KIND, company_id=workspace.company_id, count=stats.cached)
    logger.info(
        "deliverables cache workspace=%s cached=%s transformed=%s queued=%s pending=%s "
        "failed=%s calls_saved=%s",
        workspace.pk,
        stats.cached,
        stats.transformed,
        stats.queued,
        stats.pending,
        stats.failed,
        stats.calls_saved,
    )
    return listing


def _queued(row: dict[str, Any], now) -> bool:
    queued_at = row["transform_queued_at"]
    return (
        row["content_transformation_status"] == TransformationStatus.PENDING
        and queued_at is not None
        and queued_at > now - QUEUED_LEASE
    )


def _transform_or_queue(
    *, workspace: Workspace, rows: list[dict[str, Any]], stats: CacheStats, now
) -> None:
    by_id = {row["id"]: row for row in rows}
    try:
        prompt = active_prompt(key=PROMPT_KEY)
    except PromptMissing:
        # A configuration error must not hide the displays that are already stored.
        logger.error("deliverables: no active %r prompt; nothing transformed", PROMPT_KEY)
        stats.failed += len(rows)
        return
    jobs = [
        _Job(
            deliverable_id=pk,
            title=title,
            content=content,
            content_hash=content_hash,
            company_id=workspace.company_id,
        )
        for pk, title, content, content_hash in Deliverable.objects.filter(
            pk__in=by_id
        ).values_list("pk", "title", "content", "content_hash")
    ]
    jobs.sort(key=lambda job: job.deliverable_id)
    keys = {
        job.deliverable_id: prompt_context_hash(prompt=prompt, inputs=job.inputs) for job in jobs
    }
    # Someone (a worker thread of an earlier request, a task) holds the claim: do
    # not start or queue a second transform of the same thing.
    claimed = set(
        Generation.objects.filter(
            kind=KIND,
            scope__in=[job.scope for job in jobs],
            status__in=IN_PROGRESS,
            lease_expires_at__gt=now,
        ).values_list("scope", "context_hash")
    )
    free = []
    for job in jobs:
        if (job.scope, keys[job.deliverable_id]) in claimed:
            _mark_pending(by_id[job.deliverable_id], stats)
        else:
            free.append(job)
    if free:
        charge_generation()  # this request may call the model: throttled as such
    batch_size = max(settings.AI_TRANSFORM_MAX_BATCH, 0)
    batch, rest = free[:batch_size], free[batch_size:]
    if batch:
        _run_batch(batch=batch, by_id=by_id, stats=stats)
    if rest:
        queued = set(queue_transforms(deliverable_ids=[job.deliverable_id for job in rest]))
        stats.queued += len(queued)
        for job in rest:
            row = by_id[job.deliverable_id]
            if job.deliverable_id in queued:
                row["transform_queued_at"] = now
            _mark_pending(row, stats)


def _run_batch(*, batch: list[_Job], by_id: dict[int, dict], stats: CacheStats) -> None:
    executor = ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix="deliverable")
    futures = {executor.submit(_transform_in_thread, job): job for job in batch}
    done, _ = wait_for(futures, timeout=settings.AI_TRANSFORM_TIMEOUT)
    # A transform past the timeout keeps running in its thread and stores its
    # display when it ends; this request reports it pending and answers now.
    executor.shutdown(wait=False)
    for future, job in futures.items():
        row = by_id[job.deliverable_id]
        if future not in done:
            _mark_pending(row, stats)
            continue
        try:
            outcome = future.result()
        except Exception:
            logger.exception("deliverable %s: transformation crashed", job.deliverable_id)
            stats.failed += 1
            row["content_transformation_status"] = TransformationStatus.FAILED
            continue
        row.update(outcome.fields)
        if outcome.source == Source.GENERATED:
            stats.transformed += 1
        elif outcome.source == "failed":
            stats.failed += 1
            row["content_transformation_status"] = TransformationStatus.FAILED
        elif outcome.fields:
            stats.cached += 1
        else:
            # The content changed while it was transformed; the next read catches up.
            _mark_pending(row, stats)


def _mark_pending(row: dict[str, Any], stats: CacheStats) -> None:
    stats.pending += 1
    row["content_transformation_status"] = TransformationStatus.PENDING
