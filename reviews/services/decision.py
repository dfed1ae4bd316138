"""The aggregate and complete steps: the decision in plain code (reviews.aggregation),
committed with the run's figures and its completed status."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from reviews.aggregation import Vote, decide
from reviews.lifecycle import EventType, RunStatus
from reviews.models import Decision, PersonaReview, Run
from reviews.services.calls import record_step
from reviews.services.events import append_event
from reviews.services.runs import RUN_LEASE


def complete(*, run: Run) -> None:
    """Store the decision (once) and complete the run, giving its lease back."""
    reviews = list(PersonaReview.objects.filter(run=run).select_related("persona"))
    votes = [
        Vote(
            persona_key=r.persona.key,
            weight=r.persona.weight,
            confidence=r.confidence_score,
            blocking=r.blocking_issues_present,
            security=r.security_concerns_present,
        )
        for r in reviews
    ]
    outcome = decide(votes)
    weighted = Decimal(outcome["overall_weighted_confidence"])
    now = timezone.now()
    with transaction.atomic():
        _, created = Decision.objects.get_or_create(
            run=run,
            defaults={
                "decision": outcome,
                "overall_weighted_confidence": weighted,
                "notes": _notes(outcome),
            },
        )
        if created:
            append_event(
                run_id=run.pk,
                event_type=EventType.DECISION_STORED,
                step="aggregate",
                data=outcome,
            )
        updated = RUN_LEASE.release(
            Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING),
            status=RunStatus.COMPLETED,
            overall_weighted_confidence=weighted,
            decision_label=outcome["label"],
            finished_at=now,
            updated_at=now,
        )
        if updated:
            record_step(run_id=run.pk)
            append_event(
                run_id=run.pk,
                event_type=EventType.RUN_COMPLETED,
                data={"status": RunStatus.COMPLETED, "decision_label": outcome["label"]},
            )


def _notes(outcome: dict) -> str:
    parts = [f"{outcome['label']} at weighted confidence {outcome['overall_weighted_confidence']}"]
    if outcome["blocking_personas"]:
        parts.append("blocking issues from " + ", ".join(outcome["blocking_personas"]))
    return "; ".join(parts) + "."
