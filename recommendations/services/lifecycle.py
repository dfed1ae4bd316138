"""The recommendation lifecycle, feedback, and the admin's actions on content."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import IllegalTransition
from generation.flight import schedule_revalidation
from generation.models import Generation
from recommendations.lifecycle import Status, sources_of
from recommendations.models import GeneratedContent, Recommendation, RecommendationEffectiveness


def start_recommendation(*, recommendation: Recommendation) -> Recommendation:
    """fresh -> active (or stay active); the first start records time-to-start."""
    now = timezone.now()
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().get(pk=recommendation.pk)
        if rec.status == Status.FRESH:
            rec.transition_to(Status.ACTIVE)
            # Becoming active by a start is a showing too (fresh rows were never shown).
            rec.last_presented_at = now
            rec.times_presented += 1
            rec.save(update_fields=["last_presented_at", "times_presented"])
        elif rec.status != Status.ACTIVE:
            raise IllegalTransition(
                f"A {rec.status} recommendation cannot be started.",
                current=rec.status,
                requested="started",
            )
        if rec.started_at is None:
            rec.started_at = now
            rec.save(update_fields=["started_at"])
            _effectiveness(rec).update(was_started=True, time_to_start=now - rec.generated_at)
    return rec


def complete_recommendation(*, recommendation: Recommendation) -> Recommendation:
    """active -> completed; records time-to-complete."""
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().get(pk=recommendation.pk)
        complete(rec, now=timezone.now())
    return rec


def complete(rec: Recommendation, *, now: datetime) -> None:
    rec.transition_to(Status.COMPLETED)
    rec.completed_at = now
    rec.save(update_fields=["completed_at"])
    _effectiveness(rec).update(was_completed=True, time_to_complete=now - rec.generated_at)


def _effectiveness(rec: Recommendation) -> models.QuerySet:
    RecommendationEffectiveness.objects.get_or_create(
        recommendation=rec, defaults={"company_id": rec.company_id}
    )
    return RecommendationEffectiveness.objects.filter(recommendation=rec)


def record_feedback(
    *, recommendation: Recommendation, rating: int, helpful: bool | None, comment: str, by
) -> Recommendation:
    """Keep the user's opinion of a recommendation (any status; the last one wins)."""
    feedback = {
        "rating": rating,
        "helpful": helpful,
        "comment": comment,
        "by": getattr(by, "pk", None),
        "at": timezone.now().isoformat(),
    }
    Recommendation.objects.filter(pk=recommendation.pk).update(user_feedback=feedback)
    recommendation.user_feedback = feedback
    return recommendation


def mark_stale(*, rows: Iterable[GeneratedContent]) -> int:
    """Stale each row the lifecycle allows; returns how many changed."""
    changed = 0
    for row in rows:
        try:
            row.transition_to(Status.STALE)
        except IllegalTransition:
            continue
        changed += 1
    return changed


def regenerate(*, rows: Sequence[GeneratedContent]) -> tuple[int, int]:
    """Ask the model again for the artefacts behind these rows, in the background: one
    refresh is queued per artefact (generation.flight.schedule_revalidation). The live
    rows of each queued artefact become `regenerating` (members see "being
    regenerated") and keep serving until refresh_rows replaces them. Rows without an
    artefact are marked stale (the next read makes them). Returns (refreshes queued,
    rows staled)."""
    queued = 0
    seen: set[int] = set()
    orphans = []
    with transaction.atomic():
        for row in rows:
            if row.generation_id is None:
                orphans.append(row)
            elif row.generation_id not in seen:
                seen.add(row.generation_id)
                if schedule_revalidation(Generation(pk=row.generation_id)):
                    queued += 1
                    # Marked in the transaction that queues the refresh (it runs on
                    # commit), so the mark never lands on the rows of the new content.
                    type(row).objects.filter(
                        generation_id=row.generation_id,
                        status__in=sources_of(Status.REGENERATING),
                    ).update(status=Status.REGENERATING)
        return queued, mark_stale(rows=orphans)


def edit_content(*, row: GeneratedContent, fields: dict[str, Any]) -> GeneratedContent:
    """An admin's edit of stored content. The row's revision is raised with it: cached
    representations are keyed by it, so every reader sees the edit at once."""
    with transaction.atomic():
        for name, value in fields.items():
            setattr(row, name, value)
        row.revision = F("revision") + 1
        row.save(update_fields=[*fields, "revision"])
    row.refresh_from_db(fields=["revision"])
    return row
