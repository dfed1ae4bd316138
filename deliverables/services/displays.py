"""Making a display: one transformation is at most one provider call
(get_or_generate single-flights it), and the display is written only if the content
is still the one it was made from."""

import logging
from dataclasses import dataclass, field
from typing import Any

import pydantic
from django.db import connection
from django.utils import timezone

from deliverables import selectors
from deliverables.models import (
    Deliverable,
    DeliverableStatus,
    DisplayFormat,
    TransformationStatus,
    Workspace,
)
from deliverables.schemas import DeliverableDisplay
from deliverables.selectors import KIND
from deliverables.services.queue import TRANSFORM_LEASE, release_claim
from deliverables.services.wakeups import display_changed
from generation.errors import BudgetExceeded, ProviderUnavailable
from generation.flight import Source, get_or_generate
from generation.hashing import canonical_json
from generation.models import Generation
from generation.rendering import clean_html

logger = logging.getLogger(__name__)


@dataclass
class TransformOutcome:
    """`source` is a generation Source value, or "failed" / "skipped"."""

    source: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DisplayJob:
    """A snapshot of what one transformation is made from."""

    deliverable_id: int
    title: str
    content: Any
    content_hash: str
    company_id: int
    workspace_id: int

    @classmethod
    def of(cls, deliverable: Deliverable, *, workspace: Workspace) -> "DisplayJob":
        return cls(
            deliverable_id=deliverable.pk,
            title=deliverable.title,
            content=deliverable.content,
            content_hash=deliverable.content_hash,
            company_id=workspace.company_id,
            workspace_id=workspace.pk,
        )

    @property
    def scope(self) -> str:
        return selectors.display_scope(self.deliverable_id)

    @property
    def inputs(self) -> dict[str, str]:
        return display_inputs(title=self.title, content=self.content)


def display_inputs(*, title: str, content: Any) -> dict[str, str]:
    return {"title": title, "content_json": canonical_json(content)}


def transform_deliverable(*, deliverable_id: int, force: bool = False) -> TransformOutcome | None:
    """The queued task's body: load by id, transform unless the display is current.
    Safe to run twice: the second run finds the display current (or the Generation
    cached) and makes no provider call."""
    deliverable = selectors.deliverable_to_transform(deliverable_id=deliverable_id)
    if deliverable is None:
        return None
    current = is_current(deliverable, active_prompt_id=selectors.active_prompt_id())
    if deliverable.status != DeliverableStatus.COMPLETED or (current and not force):
        release_claim(deliverable_id=deliverable_id)
        display_changed(workspace_id=deliverable.workspace_id)
        return TransformOutcome("skipped")
    return _transform(DisplayJob.of(deliverable, workspace=deliverable.workspace))


def _transform(job: DisplayJob) -> TransformOutcome:
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
            prompt_key=selectors.PROMPT_KEY,
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


def _apply_display(*, job: DisplayJob, content: Any, prompt_id: int | None) -> dict[str, Any]:
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
    }
    return _write(job=job, fields=fields)


def _mark_failed(*, job: DisplayJob, error: str) -> dict[str, Any]:
    logger.warning("deliverable %s: transformation failed: %s", job.deliverable_id, error)
    return _write(job=job, fields={"content_transformation_status": TransformationStatus.FAILED})


def _write(*, job: DisplayJob, fields: dict[str, Any]) -> dict[str, Any]:
    """Write `fields` and end the queue claim, if the content is still the one the job
    was made from; returns what was written (nothing when the content changed)."""
    written = TRANSFORM_LEASE.release(
        Deliverable.objects.filter(pk=job.deliverable_id, content_hash=job.content_hash),
        **fields,
    )
    if not written:
        return {}
    display_changed(workspace_id=job.workspace_id)
    return {**fields, TRANSFORM_LEASE.expires_field: None}


def _unit(value: float) -> float:
    """Models report 0-1 or 0-100; stored as 0-1."""
    if value > 1:
        value = value / 100
    return round(min(max(value, 0.0), 1.0), 4)


def transform_in_thread(job: DisplayJob) -> TransformOutcome:
    try:
        return _transform(job)
    finally:
        # Each worker thread opened its own connection; do not leak it.
        connection.close()


def is_current(deliverable: Deliverable, *, active_prompt_id: int | None) -> bool:
    """Made from this title and content, by the active version of the display prompt
    (a rollback makes an earlier display current again: served with 0 calls). With
    no active version at all, a stored display is still served."""
    return (
        bool(deliverable.display_content)
        and deliverable.display_source_hash == deliverable.content_hash
        and (active_prompt_id is None or deliverable.display_prompt_id == active_prompt_id)
    )
