"""Reads shared by the API and the pages: scoped to the caller's companies, related rows
loaded up front, so a read costs the same few queries however many rows it returns."""

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from companies.selectors import companies_for
from generation.public import public_message
from generation.readable import Block, blocks, complete_json
from reviews.lifecycle import EventType, RunStatus
from reviews.models import Persona, PersonaReview, Run, RunEvent
from reviews.schemas import ExpandedProposal


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


# What each event means, in words (the run page's timeline).
EVENT_LABELS = {
    EventType.RUN_CREATED: "Run created",
    EventType.RUN_STARTED: "Work started",
    EventType.PROPOSAL_TEXT: "Proposal being written",
    EventType.PROPOSAL_RESET: "Proposal started over",
    EventType.PROPOSAL_STORED: "Proposal written",
    EventType.REVIEW_STORED: "Review written",
    EventType.REVIEW_FAILED: "Review failed",
    EventType.DECISION_STORED: "Decision made",
    EventType.RUN_COMPLETED: "Run completed",
    EventType.RUN_FAILED: "Run failed",
}


def last_event_id(*, run_id) -> int:
    return (
        RunEvent.objects.filter(run_id=run_id).order_by("-id").values_list("id", flat=True).first()
        or 0
    )


def timeline(
    *, run: Run, names: dict[str, str] | None = None, upto: int | None = None
) -> list[dict]:
    """Each event (up to the id `upto`) with the time since the run began and since the
    event before it (proposal text pieces folded into one line); `names` names the
    personas."""
    rows, previous, names = [], run.created_at, names or {}
    events = run.events.filter(id__lte=upto) if upto is not None else run.events.all()
    for event in events.order_by("id"):
        if event.type == "proposal_text" and rows and rows[-1]["type"] == "proposal_text":
            rows[-1]["pieces"] += 1
            continue
        rows.append(
            {
                "id": event.id,
                "type": event.type,
                "label": EVENT_LABELS.get(event.type, event.type),
                "step": event.step,
                "persona": event.persona_key,
                "persona_name": names.get(event.persona_key, event.persona_key),
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


# The run page. The proposal's fields in its schema's order: the order a reader meets them.
PROPOSAL_FIELDS = tuple(ExpandedProposal.model_fields)


@dataclass(frozen=True)
class ReviewProgress:
    """Reviews written and failed of the `total` the run asks for; `done` says which
    persona's review is "written" or "failed" (a live page counts each persona once)."""

    written: int
    failed: int
    total: int
    done: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    """A decision as the page shows it: its label (approve, revise or reject), the
    weighted confidence as a whole percentage, who found blocking issues."""

    label: str
    title: str
    percent: int
    blocking: list[str]


def persona_names() -> dict[str, str]:
    return dict(Persona.objects.values_list("key", "name"))


def proposal_blocks(value) -> list[Block]:
    """A proposal, or the text of one being written, as readable blocks in its schema's
    field order."""
    if isinstance(value, str):
        value = complete_json(value.strip())
    if not isinstance(value, dict):
        return []
    return blocks({name: value[name] for name in PROPOSAL_FIELDS if name in value})


def proposal_fields() -> list[tuple[str, str]]:
    """The proposal's fields and their labels (as generation.readable labels them)."""
    return [(name, blocks({name: ""})[0].label) for name in PROPOSAL_FIELDS]


def proposal_text(*, run: Run, upto: int) -> str:
    """The proposal text streamed up to the event `upto`: the pieces since it last
    started over."""
    events = run.events.filter(id__lte=upto)
    reset = (
        events.filter(type=EventType.PROPOSAL_RESET)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    pieces = (
        events.filter(type=EventType.PROPOSAL_TEXT, id__gt=reset or 0)
        .order_by("id")
        .values_list("data__text", flat=True)
    )
    return "".join(piece or "" for piece in pieces)


def review_progress(*, run: Run, reviews: list[PersonaReview]) -> ReviewProgress:
    """Reviews written and failed of the personas the run was made with."""
    written = {review.persona.key for review in reviews}
    failed = (
        set(run.events.filter(type=EventType.REVIEW_FAILED).values_list("persona_key", flat=True))
        - written
    )
    total = max(len(run.parameters.get("persona_weights") or {}), len(written | failed))
    return ReviewProgress(
        written=len(written),
        failed=len(failed),
        total=total,
        done={key: "failed" for key in failed} | {key: "written" for key in written},
    )


def outcome(*, decision, names: dict[str, str]) -> Outcome:
    label = decision.decision.get("label", "")
    percent = (decision.overall_weighted_confidence * 100).quantize(Decimal(1), ROUND_HALF_UP)
    return Outcome(
        label=label,
        title=label.capitalize(),
        percent=int(percent),
        blocking=[names.get(k, k) for k in decision.decision.get("blocking_personas", [])],
    )


def failure_text(*, error: dict | None, names: dict[str, str]) -> str:
    """What failed, then why in the public sentence for its code (generation.public):
    never the provider's text or a step's code."""
    error = error or {}
    if error.get("step") == "expand":
        what = "The proposal could not be written."
    elif error.get("step") == "review":
        failures = error.get("failures") or [error]
        who = [names.get(f.get("persona") or "", "") for f in failures]
        if len(who) > 1:
            what = f"{len(who)} reviews could not be written ({', '.join(filter(None, who))})."
        elif who[0]:
            what = f"The {who[0]}'s review could not be written."
        else:
            what = "A review could not be written."
    else:
        what = "The review run could not finish."
    return f"{what} {public_message(error.get('code'))}"
