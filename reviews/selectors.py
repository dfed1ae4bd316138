"""Reads shared by the API and the pages: scoped to the caller's companies, related rows
loaded up front, so a read costs the same few queries however many rows it returns."""

import statistics
from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from companies.selectors import companies_for
from reviews.lifecycle import RunStatus
from reviews.models import PersonaReview, Run, RunEvent


def runs_for(*, user) -> QuerySet[Run]:
    return Run.objects.filter(company__in=companies_for(user=user).values("pk"))


def run_list(*, user, status: str | None = None, run_type: str | None = None) -> QuerySet[Run]:
    runs = runs_for(user=user).select_related("decision").order_by("-created_at", "pk")
    if status:
        runs = runs.filter(status=status)
    if run_type:
        runs = runs.filter(run_type=run_type)
    return runs


def run_detail_queryset(*, user) -> QuerySet[Run]:
    """A run with its proposal, reviews (with personas), decision and parent."""
    return (
        runs_for(user=user)
        .select_related("proposal", "decision", "company")
        .prefetch_related(
            Prefetch(
                "reviews",
                queryset=PersonaReview.objects.select_related("persona").order_by(
                    "persona__order", "persona__key"
                ),
            ),
        )
    )


def events_after(*, run_id, after: int) -> tuple[str | None, list[RunEvent]]:
    """The run's status, then its events with id > after. Status first: a finished run
    has committed all of its events, so this read has them all."""
    status = Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
    events = list(RunEvent.objects.filter(run_id=run_id, id__gt=after).order_by("id"))
    return status, events


def timeline(*, run: Run) -> list[dict]:
    """Each event with the time since the run began and since the event before it
    (proposal text pieces folded into one line)."""
    rows, previous = [], run.created_at
    for event in run.events.order_by("id"):
        if event.type == "proposal_text" and rows and rows[-1]["type"] == "proposal_text":
            rows[-1]["pieces"] += 1
            continue
        rows.append(
            {
                "id": event.id,
                "type": event.type,
                "step": event.step,
                "persona": event.persona_key,
                "at": event.created_at,
                "since_start_ms": int((event.created_at - run.created_at).total_seconds() * 1000),
                "since_previous_ms": int((event.created_at - previous).total_seconds() * 1000),
                "pieces": 1,
            }
        )
        previous = event.created_at
    return rows


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[int(q) - 1], 3)


def metrics(*, user, since: date | None = None, until: date | None = None) -> dict:
    """Per day (of the run's creation) and in total: runs, completed, failed, running,
    failure rate (failed / finished), duration p50/p95 in seconds (finished runs), and
    provider calls per run."""
    until = until or timezone.localdate()
    since = since or until - timedelta(days=29)
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(since, time.min), tz)
    end = timezone.make_aware(datetime.combine(until + timedelta(days=1), time.min), tz)
    rows = (
        runs_for(user=user)
        .filter(created_at__gte=start, created_at__lt=end)
        .values_list("created_at", "finished_at", "status", "provider_calls")
    )
    days: dict[date, list] = {}
    for created, finished, status, calls in rows:
        days.setdefault(timezone.localdate(created, tz), []).append(
            (created, finished, status, calls)
        )
    per_day = [_figures(items) | {"day": day.isoformat()} for day, items in sorted(days.items())]
    everything = [item for items in days.values() for item in items]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "total": _figures(everything),
        "days": per_day,
    }


def _figures(items: list) -> dict:
    durations = [(f - c).total_seconds() for c, f, _, _ in items if f is not None]
    failed = sum(1 for *_, s, _ in items if s == RunStatus.FAILED)
    completed = sum(1 for *_, s, _ in items if s == RunStatus.COMPLETED)
    finished = failed + completed
    calls = sum(n for *_, n in items)
    return {
        "runs": len(items),
        "completed": completed,
        "failed": failed,
        "running": len(items) - finished,
        "failure_rate": round(failed / finished, 4) if finished else None,
        "duration_p50_seconds": _percentile(durations, 50),
        "duration_p95_seconds": _percentile(durations, 95),
        "provider_calls": calls,
        "calls_per_run": round(calls / len(items), 2) if items else None,
    }
