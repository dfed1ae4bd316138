"""The cache-first listing: stored displays served as they are, the rest transformed
(a few per request, concurrently) or queued.

A display made from the current content (display_source_hash == content_hash) by
the active prompt version is served as is, with no provider call and no Generation
lookup. Completed deliverables without a current display are transformed through
get_or_generate, at most AI_TRANSFORM_MAX_BATCH per request, concurrently, each
waited for at most AI_TRANSFORM_TIMEOUT seconds; the rest are queued as Django-Q2
tasks.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.utils import timezone

from deliverables import selectors
from deliverables.models import Deliverable, DeliverableStatus, TransformationStatus, Workspace
from deliverables.selectors import KIND, DeliverablePage
from deliverables.services.displays import DisplayJob, is_current, transform_in_thread
from deliverables.services.queue import is_queued, queue_transforms
from generation.errors import PromptMissing
from generation.events import release_connection
from generation.flight import Source
from generation.hits import record_hit
from generation.models import IN_PROGRESS, Generation
from generation.prompts import active_prompt, prompt_context_hash
from generation.throttles import charge_generation

logger = logging.getLogger(__name__)


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
    """A page served cache-first. Its deliverables carry what this request wrote (a
    display made now) and the status it reports (pending while transformed
    elsewhere or queued, failed)."""

    deliverables: list[Deliverable]
    stats: CacheStats = field(default_factory=CacheStats)


def serve_deliverables(*, workspace: Workspace, page: DeliverablePage) -> Listing:
    """Serve a page of selectors.deliverable_page, transforming or queueing the
    completed deliverables whose display is not current. All current: no query."""
    listing = Listing(deliverables=page.deliverables)
    stats = listing.stats
    now = timezone.now()
    needing = []
    for deliverable in page.deliverables:
        if deliverable.status != DeliverableStatus.COMPLETED:
            continue
        if is_current(deliverable, active_prompt_id=page.active_prompt_id):
            stats.cached += 1
        elif is_queued(deliverable, now):
            stats.pending += 1
        else:
            needing.append(deliverable)
    if needing:
        _transform_or_queue(workspace=workspace, deliverables=needing, stats=stats, now=now)
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


def _transform_or_queue(
    *, workspace: Workspace, deliverables: list[Deliverable], stats: CacheStats, now
) -> None:
    by_id = {deliverable.pk: deliverable for deliverable in deliverables}
    try:
        prompt = active_prompt(key=selectors.PROMPT_KEY)
    except PromptMissing:
        # A configuration error must not hide the displays that are already stored.
        logger.error("deliverables: no active %r prompt; nothing transformed", selectors.PROMPT_KEY)
        stats.failed += len(deliverables)
        return
    # Read again with the raw content (the page leaves it out), as it is now.
    jobs = [
        DisplayJob.of(deliverable, workspace=workspace)
        for deliverable in Deliverable.objects.filter(pk__in=by_id)
        .only("pk", "title", "content", "content_hash")
        .order_by("pk")
    ]
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
        rest = _run_batch(batch=batch, by_id=by_id, stats=stats) + rest
    if rest:
        queued = queue_transforms(deliverable_ids=[job.deliverable_id for job in rest])
        stats.queued += len(queued)
        for job in rest:
            _mark_pending(by_id[job.deliverable_id], stats)


class _ThreadSlots:
    """The transform threads a process may run at once (AI_TRANSFORM_THREADS). Each
    thread needs a pooled connection now and then; bounding them keeps connections
    for the requests, the ones that started the threads included. A counter rather
    than a Semaphore: the bound is read from the settings on each take, so a change
    of AI_TRANSFORM_THREADS holds at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.used = 0

    def take(self, wanted: int) -> int:
        with self._lock:
            granted = max(0, min(wanted, settings.AI_TRANSFORM_THREADS - self.used))
            self.used += granted
            return granted

    def give_back(self) -> None:
        with self._lock:
            self.used -= 1


_slots = _ThreadSlots()


def _in_slot(job: DisplayJob):
    try:
        return transform_in_thread(job)
    finally:
        _slots.give_back()


def _run_batch(
    *, batch: list[DisplayJob], by_id: dict[int, Deliverable], stats: CacheStats
) -> list[DisplayJob]:
    """Transform what the process's free thread slots allow, waiting at most
    AI_TRANSFORM_TIMEOUT; returns the jobs that got no slot (to be queued)."""
    granted = _slots.take(len(batch))
    batch, rest = batch[:granted], batch[granted:]
    if not batch:
        return rest
    executor = ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix="deliverable")
    futures = {executor.submit(_in_slot, job): job for job in batch}
    # The wait needs no database: give this request's connection back to the pool
    # meanwhile, for the threads and for other requests.
    release_connection()
    done, _ = wait_for(futures, timeout=settings.AI_TRANSFORM_TIMEOUT)
    # A transform past the timeout keeps running in its thread and stores its
    # display when it ends; this request reports it pending and answers now.
    executor.shutdown(wait=False)
    for future, job in futures.items():
        deliverable = by_id[job.deliverable_id]
        if future not in done:
            _mark_pending(deliverable, stats)
            continue
        try:
            outcome = future.result()
        except Exception:
            logger.exception("deliverable %s: transformation crashed", job.deliverable_id)
            stats.failed += 1
            deliverable.content_transformation_status = TransformationStatus.FAILED
            continue
        # What was written, so this response shows it.
        for name, value in outcome.fields.items():
            setattr(deliverable, name, value)
        if outcome.source == Source.GENERATED:
            stats.transformed += 1
        elif outcome.source == "failed":
            stats.failed += 1
            deliverable.content_transformation_status = TransformationStatus.FAILED
        elif outcome.fields:
            stats.cached += 1
        else:
            # The content changed while it was transformed; the next read catches up.
            _mark_pending(deliverable, stats)
    return rest


def _mark_pending(deliverable: Deliverable, stats: CacheStats) -> None:
    stats.pending += 1
    deliverable.content_transformation_status = TransformationStatus.PENDING
