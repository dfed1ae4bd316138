"""The recommendations' maintenance jobs, in batches: stale marking (by context
change, and by age per kind: expiry) and retention (deletion of old context
snapshots). What the generation app owns, its logs among it, has its own retention
job (generation/retention.py); `run_maintenance()` runs them all, as the schedules
do.

Each batch is one short statement in its own transaction (autocommit), so no lock is
held for long and readers are never blocked for the whole run. Batches walk the table
by primary key (generation/batches.py), so every row is looked at once however many
match. Every job is idempotent: running it twice changes nothing the second time.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from generation import retention
from generation.batches import Progress, delete_in_batches, walk
from recommendations.lifecycle import LIVE, Status
from recommendations.models import ContextSnapshot, GeneratedContent
from recommendations.services import CONTENT_MODELS


@dataclass
class MaintenanceReport:
    stale_by_context: dict[str, int] = field(default_factory=dict)
    stale_by_age: dict[str, int] = field(default_factory=dict)
    snapshots_deleted: int = 0

    @property
    def stale_total(self) -> int:
        return sum(self.stale_by_context.values()) + sum(self.stale_by_age.values())

    def as_dict(self) -> dict:
        return {
            "stale_by_context": self.stale_by_context,
            "stale_by_age": self.stale_by_age,
            "snapshots_deleted": self.snapshots_deleted,
        }


def mark_stale_by_context(
    *,
    model: type[GeneratedContent],
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Stale the context-bound rows whose context is no longer their company's current
    one, in batches until none is left."""
    batch_size = batch_size or settings.MAINTENANCE_BATCH_SIZE
    current = ContextSnapshot.objects.filter(
        company_id=OuterRef("company_id"), is_current=True
    ).values("context_hash")[:1]
    candidates = (
        model.objects.filter(model.context_bound())
        .annotate(current_hash=Subquery(current))
        .filter(current_hash__isnull=False)
        .exclude(context_hash=F("current_hash"))
    )

    def apply(ids: list[int]) -> int:
        # Re-checked in the UPDATE: a row completed since the SELECT stays completed.
        return model.objects.filter(model.context_bound(), pk__in=ids).update(
            status=Status.STALE, stale_at=timezone.now()
        )

    return walk(
        candidates,
        apply,
        batch_size=batch_size,
        label=f"{model._meta.model_name}: context",
        progress=progress,
    )


def _expired(kind: str, now: datetime) -> Q:
    # Rows carry expires_at; one without it ages by its kind's lifetime.
    return Q(expires_at__lte=now) | Q(
        expires_at__isnull=True, generated_at__lte=now - settings.EVERGREEN_EXPIRY[kind]
    )


def mark_stale_by_age(
    *,
    kind: str,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Stale the live rows of one kind that have outlived its lifetime (14/30/7 days)."""
    model = CONTENT_MODELS[kind]
    now = now or timezone.now()
    batch_size = batch_size or settings.MAINTENANCE_BATCH_SIZE
    expired = Q(status__in=LIVE) & _expired(kind, now)

    def apply(ids: list[int]) -> int:
        return model.objects.filter(expired, pk__in=ids).update(
            status=Status.STALE, stale_at=timezone.now()
        )

    return walk(
        model.objects.filter(expired),
        apply,
        batch_size=batch_size,
        label=f"{kind}: age",
        progress=progress,
    )


def mark_stale(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    report: MaintenanceReport | None = None,
) -> MaintenanceReport:
    report = report or MaintenanceReport()
    for kind, model in CONTENT_MODELS.items():
        report.stale_by_context[kind] = mark_stale_by_context(
            model=model, batch_size=batch_size, progress=progress
        )
        report.stale_by_age[kind] = mark_stale_by_age(
            kind=kind, now=now, batch_size=batch_size, progress=progress
        )
    return report


def purge(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    report: MaintenanceReport | None = None,
) -> MaintenanceReport:
    """Delete context snapshots (never a company's current one) older than
    EVERGREEN_RETENTION_DAYS."""
    report = report or MaintenanceReport()
    now = now or timezone.now()
    batch_size = batch_size or settings.MAINTENANCE_BATCH_SIZE
    cutoff = now - timedelta(days=settings.EVERGREEN_RETENTION_DAYS)
    old_snapshots = ContextSnapshot.objects.filter(created_at__lt=cutoff, is_current=False)
    report.snapshots_deleted = delete_in_batches(
        old_snapshots, batch_size=batch_size, label="snapshots: retention", progress=progress
    )
    return report


def run_maintenance(
    *,
    only: str | None = None,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """Every maintenance job now, as the schedules run them: stale marking, then the
    retention of recommendations and of generation (`only`: "stale" or "retention").
    Returns what each app's jobs did."""
    batches = {"now": now, "batch_size": batch_size, "progress": progress}
    report = MaintenanceReport()
    if only in (None, "stale"):
        mark_stale(**batches, report=report)
    if only in (None, "retention"):
        purge(**batches, report=report)
        return {
            "recommendations": report.as_dict(),
            "generation": retention.purge(**batches).as_dict(),
        }
    return {"recommendations": report.as_dict()}
