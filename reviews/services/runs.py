"""A run's row: creation (with its first event, queued for a worker), idempotency, the
worker's lease on it, and how a run fails."""

import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from generation.leases import Lease
from generation.prompts import active_prompt
from reviews.conf import RetrySettings
from reviews.errors import IdempotencyConflict
from reviews.lifecycle import EventType, RunStatus
from reviews.models import Run
from reviews.services.calls import record_step
from reviews.services.events import append_event
from reviews.services.personas import active_personas
from reviews.services.proposal import EXPAND_PROMPT

TASK = "reviews.tasks.execute_run"

# The worker executing a run holds this lease on it and renews it while it works.
RUN_LEASE = Lease(seconds=lambda: settings.REVIEWS_LEASE_SECONDS, owner_field="worker")


def request_hash(*, idea: str, extra_context) -> str:
    payload = json.dumps({"idea": idea, "extra_context": extra_context}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def current_parameters() -> dict:
    """What a new run is made with: recorded on the run."""
    expand = active_prompt(key=EXPAND_PROMPT)
    personas = active_personas()
    review_prompts = {p.key: active_prompt(key=p.prompt_key) for p in personas}
    return {
        "expand_model": expand.effective_model,
        "expand_temperature": expand.temperature,
        "expand_prompt_version": expand.version,
        "review_models": {k: p.effective_model for k, p in review_prompts.items()},
        "review_temperatures": {k: p.temperature for k, p in review_prompts.items()},
        "persona_template_version": {k: p.version for k, p in review_prompts.items()},
        "persona_weights": {p.key: str(p.weight) for p in personas},
        "retry": RetrySettings.current().as_dict(),
    }


def enqueue(run_id, *, reason: str = "") -> None:
    """Queue the run for a worker (once the current transaction, if any, commits)."""
    from django_q.tasks import async_task

    name = f"review run {run_id}" + (f" ({reason})" if reason else "")
    transaction.on_commit(lambda: async_task(TASK, str(run_id), task_name=name))


def new_run(*, company, user, idea, extra_context, **fields) -> Run:
    """The run and its first event (call inside a transaction), queued once committed."""
    parameters = current_parameters()
    temps = {t for t in parameters["review_temperatures"].values() if t is not None}
    # provider and model stay blank until a step gets content: they say who made it.
    run = Run.objects.create(
        company=company,
        created_by=user,
        input_idea=idea,
        extra_context=extra_context,
        temperature=Decimal(str(temps.pop())) if len(temps) == 1 else None,
        parameters={**parameters, **fields.pop("parameters", {})},
        **fields,
    )
    append_event(
        run_id=run.pk,
        event_type=EventType.RUN_CREATED,
        data={
            "run_type": run.run_type,
            "idea": idea,
            "parent_run": str(run.parent_run_id) if run.parent_run_id else None,
        },
    )
    enqueue(run.pk)
    return run


def create_run(
    *, company, user, idea: str, extra_context=None, idempotency_key: str | None = None
) -> tuple[Run, bool]:
    """A new run and its first event, queued for a worker. With an idempotency key, a
    repeated request returns the first run (created False); another body is a 422."""
    digest = request_hash(idea=idea, extra_context=extra_context)
    if idempotency_key:
        existing = _by_idempotency_key(company=company, user=user, key=idempotency_key)
        if existing is not None:
            return _same_request(existing, digest), False
    try:
        with transaction.atomic():
            run = new_run(
                company=company,
                user=user,
                idea=idea,
                extra_context=extra_context,
                idempotency_key=idempotency_key or "",
                request_hash=digest,
            )
    except IntegrityError:
        # Two requests with the same key at once: the other one won.
        existing = _by_idempotency_key(company=company, user=user, key=idempotency_key)
        if existing is None:
            raise
        return _same_request(existing, digest), False
    return run, True


def _by_idempotency_key(*, company, user, key: str) -> Run | None:
    return Run.objects.filter(company=company, created_by=user, idempotency_key=key).first()


def _same_request(run: Run, digest: str) -> Run:
    if run.request_hash != digest:
        raise IdempotencyConflict(run_id=str(run.pk))
    return run


def finish_failed(*, run_id, error: dict) -> None:
    """Fail a running run with `error` (which names the step and the persona) and give
    its lease back; everything stored before stays."""
    now = timezone.now()
    with transaction.atomic():
        updated = RUN_LEASE.release(
            Run.objects.filter(pk=run_id, status=RunStatus.RUNNING),
            status=RunStatus.FAILED,
            error=error,
            finished_at=now,
            updated_at=now,
        )
        if updated:
            record_step(run_id=run_id)
            append_event(
                run_id=run_id,
                event_type=EventType.RUN_FAILED,
                step=error.get("step") or "",
                persona_key=error.get("persona") or "",
                data={"status": RunStatus.FAILED, "error": error},
            )
