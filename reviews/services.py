"""Everything that writes review runs. Keyword-only functions, each in its own transactions.

A run is created with its first RunEvent in one transaction, then executed by a
worker (reviews.tasks.execute_run) that holds a lease on it:

1. expand: the idea becomes a proposal (structured, streamed; the stream is
   copied into RunEvents as it arrives so it can be followed live);
2. review: every active persona concurrently, each review committed with its
   RunEvent as it lands;
3. aggregate: the decision in plain code (reviews.aggregation);
4. complete (or fail, with an error naming the step and the persona).

Every step is idempotent: a worker that takes over a run whose worker died skips
what is stored and asks the model only for what is missing (and what the dead
worker did finish comes back from the generate-once cache).
"""

import hashlib
import json
import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import DomainError
from generation.events import hub, notify, release_connection
from generation.flight import GenerationResult, Source, get_or_generate
from generation.models import Generation, GenerationLog
from generation.prompts import active_prompt, prompt_context_hash
from generation.streams import StreamCursor, events_from, read_stream
from reviews.aggregation import Vote, decide
from reviews.conf import RetrySettings
from reviews.errors import IdempotencyConflict, NoProposal, StepFailed
from reviews.lifecycle import EventType, RunStatus, RunType
from reviews.models import Decision, Persona, PersonaReview, ProposalVersion, Run, RunEvent
from reviews.schemas import PROPOSAL_SECTIONS, ExpandedProposal, PersonaReviewOutput

logger = logging.getLogger(__name__)

EXPAND_PROMPT = "review-expand"
KIND_PROPOSAL = "review_proposal"
KIND_REVIEW = "persona_review"
TASK = "reviews.tasks.execute_run"


def run_key(run_id) -> str:
    """The hub key live clients of a run wait on."""
    return f"run:{run_id}"


def request_hash(*, idea: str, extra_context) -> str:
    payload = json.dumps({"idea": idea, "extra_context": extra_context}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _append_event(run_id, type_: str, *, step: str = "", persona_key: str = "", data=None):
    """Append a RunEvent; call inside a transaction. The run's row is locked first, so a
    run's events are committed in id order and a reader resuming after an id skips none."""
    Run.objects.select_for_update().filter(pk=run_id).values_list("pk", flat=True).first()
    event = RunEvent.objects.create(
        run_id=run_id, type=type_, step=step, persona_key=persona_key, data=data or {}
    )
    transaction.on_commit(lambda: notify(run_key(run_id)))
    return event


def active_personas() -> list[Persona]:
    return list(Persona.objects.filter(is_active=True).order_by("order", "key"))


def persona_template_version(personas: list[Persona]) -> dict[str, int]:
    return {p.key: active_prompt(key=p.prompt_key).version for p in personas}


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


def _enqueue(run_id) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(TASK, str(run_id), task_name=f"review run {run_id}"))


def _new_run(*, company, user, idea, extra_context, **fields) -> Run:
    parameters = current_parameters()
    review_models = set(parameters["review_models"].values())
    temps = {t for t in parameters["review_temperatures"].values() if t is not None}
    run = Run.objects.create(
        company=company,
        created_by=user,
        input_idea=idea,
        extra_context=extra_context,
        model=", ".join(sorted(review_models)),
        temperature=Decimal(str(temps.pop())) if len(temps) == 1 else None,
        parameters={**parameters, **fields.pop("parameters", {})},
        **fields,
    )
    _append_event(
        run.pk,
        EventType.RUN_CREATED,
        data={
            "run_type": run.run_type,
            "idea": idea,
            "parent_run": str(run.parent_run_id) if run.parent_run_id else None,
        },
    )
    _enqueue(run.pk)
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
            run = _new_run(
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


def create_revision(
    *, parent: Run, user, edit_notes: str, idea: str | None = None, extra_context=None
) -> Run:
    """A new run whose proposal revises the parent's, with the edit notes."""
    if not ProposalVersion.objects.filter(run=parent).exists():
        raise NoProposal(run_id=str(parent.pk))
    with transaction.atomic():
        return _new_run(
            company=parent.company,
            user=user,
            idea=idea if idea is not None else parent.input_idea,
            extra_context=extra_context if extra_context is not None else parent.extra_context,
            run_type=RunType.REVISION,
            parent_run_id=parent.pk,
            parameters={"edit_notes": edit_notes},
        )


# --- execution -------------------------------------------------------------------------


def _worker_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _lease_until():
    return timezone.now() + timedelta(seconds=settings.REVIEWS_LEASE_SECONDS)


def claim(*, run_id, worker: str) -> bool:
    """Take the run's lease: a run nobody works on, or whose worker's lease ran out.
    Past REVIEWS_MAX_RECOVERIES takeovers the run is failed instead."""
    now = timezone.now()
    with transaction.atomic():
        run = (
            Run.objects.select_for_update()
            .filter(pk=run_id, status=RunStatus.RUNNING)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .first()
        )
        if run is None:
            return False
        takeover = bool(run.worker)
        if takeover and run.recoveries >= settings.REVIEWS_MAX_RECOVERIES:
            _finish_failed(
                run.pk,
                {
                    "step": "recovery",
                    "persona": None,
                    "code": "worker_lost",
                    "message": f"The run's worker died {run.recoveries + 1} times; giving up.",
                },
            )
            return False
        Run.objects.filter(pk=run.pk).update(
            worker=worker,
            lease_expires_at=_lease_until(),
            recoveries=F("recoveries") + (1 if takeover else 0),
            updated_at=now,
        )
        _append_event(
            run.pk,
            EventType.RUN_STARTED,
            data={"worker": worker, "takeover": takeover, "recoveries": run.recoveries},
        )
    return True


class _Heartbeat:
    """Renews the run's lease while the worker is alive."""

    def __init__(self, run_id, worker: str) -> None:
        self.run_id, self.worker = run_id, worker
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"review-lease-{run_id}", daemon=True
        )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = max(0.2, settings.REVIEWS_LEASE_SECONDS / 3)
        try:
            while not self._stop.wait(interval):
                Run.objects.filter(
                    pk=self.run_id, worker=self.worker, status=RunStatus.RUNNING
                ).update(lease_expires_at=_lease_until())
                release_connection()
        finally:
            connection.close()


def execute_run(*, run_id) -> str:
    """Run (or finish) a run. Safe to call twice and from several workers: only the
    holder of the lease works, and every step skips what is already stored."""
    worker = _worker_token()
    if not claim(run_id=run_id, worker=worker):
        return "skipped"
    with _Heartbeat(run_id, worker):
        run = Run.objects.select_related("company", "parent_run").get(pk=run_id)
        try:
            proposal = ProposalVersion.objects.filter(run=run).first() or _expand(run)
            failures = _review_all(run, proposal)
            if failures:
                first = failures[0]
                raise StepFailed({**first, "failures": failures})
            _decide(run)
            return "completed"
        except StepFailed as exc:
            _finish_failed(run.pk, exc.error)
        except DomainError as exc:
            _finish_failed(
                run.pk, {"step": "run", "persona": None, "code": exc.code, "message": exc.message}
            )
        except Exception as exc:
            logger.exception("review run %s crashed", run_id)
            _finish_failed(
                run.pk,
                {"step": "run", "persona": None, "code": "internal", "message": repr(exc)[:500]},
            )
        return "failed"


def _finish_failed(run_id, error: dict) -> None:
    with transaction.atomic():
        updated = Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED,
            error=error,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
            lease_expires_at=None,
        )
        if updated:
            _append_event(
                run_id,
                EventType.RUN_FAILED,
                step=error.get("step") or "",
                persona_key=error.get("persona") or "",
                data={"status": RunStatus.FAILED, "error": error},
            )


def _failure(step: str, persona: str | None, code: str, message: str, **extra) -> dict:
    return {"step": step, "persona": persona, "code": code, "message": message, **extra}


def _generate(*, step: str, persona: str | None, **kwargs) -> GenerationResult:
    """get_or_generate, with every way of not getting fresh content as a StepFailed:
    a review of another proposal (fallback content) is never accepted."""
    try:
        result = get_or_generate(**kwargs)
    except DomainError as exc:  # provider unavailable, budget spent, prompt missing
        raise StepFailed(_failure(step, persona, exc.code, exc.message)) from exc
    if result.source in (Source.FALLBACK, Source.STALE):
        raise StepFailed(_failure(step, persona, "provider_unavailable", result.error))
    return result


def _calls(result: GenerationResult) -> int:
    return result.generation.attempts if result.source == Source.GENERATED else 0


# --- step 1: expand ----------------------------------------------------------------------


def _expand_inputs(run: Run) -> dict:
    inputs = {"idea": run.input_idea, "extra_context": run.extra_context or {}}
    if run.run_type == RunType.REVISION:
        parent = ProposalVersion.objects.get(run_id=run.parent_run_id)
        inputs["parent_proposal"] = parent.expanded_proposal
        inputs["edit_notes"] = run.parameters.get("edit_notes", "")
    return inputs


def _expand(run: Run) -> ProposalVersion:
    inputs = _expand_inputs(run)
    scope = f"company:{run.company_id}:reviews"
    prompt = active_prompt(key=EXPAND_PROMPT)
    mirror = _ProposalMirror(
        run.pk,
        kind=KIND_PROPOSAL,
        scope=scope,
        key=prompt_context_hash(prompt=prompt, inputs=inputs),
    )
    with mirror:
        result = _generate(
            step="expand",
            persona=None,
            kind=KIND_PROPOSAL,
            scope=scope,
            prompt_key=EXPAND_PROMPT,
            inputs=inputs,
            company_id=run.company_id,
            stream=True,
        )
    try:
        proposal = ExpandedProposal.model_validate(result.content).model_dump(mode="json")
    except ValueError as exc:
        raise StepFailed(_failure("expand", None, "invalid_output", str(exc)[:500])) from exc
    diff = (
        proposal_diff(inputs["parent_proposal"], proposal) if "parent_proposal" in inputs else None
    )
    versions = persona_template_version(active_personas())
    with transaction.atomic():
        version, created = ProposalVersion.objects.get_or_create(
            run=run,
            defaults={
                "expanded_proposal": proposal,
                "proposal_diff": diff,
                "persona_template_version": " ".join(f"{k}:v{v}" for k, v in versions.items()),
                "edit_notes": inputs.get("edit_notes", ""),
                "generation_id": result.generation.pk,
            },
        )
        if created:
            Run.objects.filter(pk=run.pk).update(
                provider_calls=F("provider_calls") + _calls(result), updated_at=timezone.now()
            )
            _append_event(
                run.pk,
                EventType.PROPOSAL_STORED,
                step="expand",
                data={"proposal": proposal, "diff": diff, "source": result.source},
            )
    return version


def proposal_diff(before: dict, after: dict) -> dict:
    """Which sections changed between two proposals, with both texts of each change."""
    names = ["title", *PROPOSAL_SECTIONS, "assumptions"]
    changed = [n for n in names if before.get(n) != after.get(n)]
    return {
        "changed": changed,
        "unchanged": [n for n in names if n not in changed],
        "sections": {n: {"before": before.get(n), "after": after.get(n)} for n in changed},
    }


class _ProposalMirror:
    """Copies the expand step's stream (its generation's chunks) into PROPOSAL_TEXT run
    events while it is written, so one ordered sequence of run events carries the whole
    run live. Runs beside the blocking get_or_generate call; on exit it copies what is
    left and stops."""

    def __init__(self, run_id, *, kind: str, scope: str, key: str) -> None:
        self.run_id, self.kind, self.scope, self.key = run_id, kind, scope, key
        self._stop = threading.Event()
        self._sub = None
        self._thread = threading.Thread(
            target=self._run, name=f"review-mirror-{run_id}", daemon=True
        )
        self.error: BaseException | None = None

    def __enter__(self):
        # A worker that took over may have copied part of an earlier stream: start over.
        if RunEvent.objects.filter(run_id=self.run_id, type=EventType.PROPOSAL_TEXT).exists():
            with transaction.atomic():
                _append_event(self.run_id, EventType.PROPOSAL_RESET, step="expand")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        sub = self._sub
        if sub is not None:
            sub.fire()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        cursor = StreamCursor()
        generation_id = None
        try:
            while True:
                stopping = self._stop.is_set()
                if generation_id is None:
                    generation_id = (
                        Generation.objects.filter(
                            kind=self.kind, scope=self.scope, context_hash=self.key
                        )
                        .values_list("pk", flat=True)
                        .first()
                    )
                    if generation_id is not None:
                        self._sub = hub.subscribe(generation_id)
                if generation_id is not None:
                    snapshot = read_stream(
                        generation_id=generation_id, after=cursor.read_after, state=lambda g: {}
                    )
                    self._copy(events_from(snapshot=snapshot, cursor=cursor))
                if stopping or cursor.finished:
                    return
                release_connection()
                if self._sub is not None:
                    self._sub.wait(1.0)
                else:
                    self._stop.wait(0.05)
        except BaseException as exc:  # the run goes on without live text
            self.error = exc
            logger.exception("review run %s: copying the proposal stream failed", self.run_id)
        finally:
            if self._sub is not None:
                self._sub.close()
            connection.close()

    def _copy(self, events) -> None:
        events = [e for e in events if e.name in ("chunk", "reset")]
        if not events:
            return
        with transaction.atomic():
            for event in events:
                if event.name == "reset":
                    _append_event(self.run_id, EventType.PROPOSAL_RESET, step="expand")
                else:
                    _append_event(
                        self.run_id,
                        EventType.PROPOSAL_TEXT,
                        step="expand",
                        data={"text": event.data["text"]},
                    )


# --- step 2: review ------------------------------------------------------------------------


def persona_inputs(*, persona: Persona, proposal: dict) -> dict:
    """What a persona is asked about: the proposal's title and the sections it reads.
    Unchanged sections mean unchanged inputs, so the review comes from the cache."""
    sections = persona.sections or list(PROPOSAL_SECTIONS)
    return {
        "persona": persona.key,
        "title": proposal.get("title", ""),
        "sections": {name: proposal.get(name) for name in sections},
    }


def _review_all(run: Run, proposal: ProposalVersion) -> list[dict]:
    personas = active_personas()
    done = set(PersonaReview.objects.filter(run=run).values_list("persona_id", flat=True))
    todo = [p for p in personas if p.pk not in done]
    if not todo:
        return []
    workers = min(settings.REVIEWS_MAX_CONCURRENCY, len(todo))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="review") as pool:
        outcomes = list(
            pool.map(lambda p: _review_in_thread(run, p, proposal.expanded_proposal), todo)
        )
    return [failure for failure in outcomes if failure is not None]


def _review_in_thread(run: Run, persona: Persona, proposal: dict) -> dict | None:
    try:
        return review_persona(run=run, persona=persona, proposal=proposal)
    except Exception as exc:
        logger.exception("review run %s: persona %s crashed", run.pk, persona.key)
        return _failure("review", persona.key, "internal", repr(exc)[:500])
    finally:
        connection.close()  # this thread's connection: back to the pool, or closed


def _retry_policy(run: Run):
    """The retry settings the run was created with (kept in its parameters)."""
    stored = (run.parameters or {}).get("retry")
    settings_ = RetrySettings(**stored) if stored else RetrySettings.current()
    return settings_.policy()


def review_persona(*, run: Run, persona: Persona, proposal: dict) -> dict | None:
    """One persona's review, committed with its event. Returns the failure, or None."""
    inputs = persona_inputs(persona=persona, proposal=proposal)
    scope = f"company:{run.company_id}:persona:{persona.key}"
    try:
        result = _generate(
            step="review",
            persona=persona.key,
            kind=KIND_REVIEW,
            scope=scope,
            prompt_key=persona.prompt_key,
            inputs=inputs,
            company_id=run.company_id,
            retry=_retry_policy(run),
        )
        parsed = PersonaReviewOutput.model_validate(result.content)
    except StepFailed as exc:
        failure = {**exc.error, **_failed_call(persona, scope, inputs)}
        _record_review_failure(run, persona, failure)
        return failure
    except ValueError as exc:
        failure = _failure("review", persona.key, "invalid_output", str(exc)[:500])
        _record_review_failure(run, persona, failure)
        return failure
    prompt = result.generation.prompt
    review = parsed.model_dump(mode="json")
    confidence = Decimal(str(parsed.confidence_score)).quantize(Decimal("0.0001"))
    attempts = _calls(result)
    try:
        with transaction.atomic():
            row = PersonaReview.objects.create(
                run=run,
                persona=persona,
                persona_name=persona.name,
                review=review,
                confidence_score=confidence,
                blocking_issues_present=any(c.is_blocking for c in parsed.concerns),
                security_concerns_present=any(c.category == "security" for c in parsed.concerns),
                prompt_parameters={
                    "model": result.generation.model,
                    "temperature": prompt.temperature if prompt else None,
                    "persona_template_version": prompt.version if prompt else None,
                    "attempt_count": attempts,
                    "source": str(result.source),
                    "generation_id": result.generation.pk,
                    "provider": result.generation.provider,
                },
            )
            Run.objects.filter(pk=run.pk).update(
                provider_calls=F("provider_calls") + attempts, updated_at=timezone.now()
            )
            _append_event(
                run.pk,
                EventType.REVIEW_STORED,
                step="review",
                persona_key=persona.key,
                data={
                    "persona": persona.key,
                    "persona_name": persona.name,
                    "review_id": str(row.pk),
                    "review": review,
                    "confidence_score": str(confidence),
                    "blocking_issues_present": row.blocking_issues_present,
                    "security_concerns_present": row.security_concerns_present,
                    "attempt_count": attempts,
                    "source": str(result.source),
                },
            )
    except IntegrityError:
        # Another worker stored this persona's review first: the unique constraint holds.
        logger.info("review run %s: %s already reviewed", run.pk, persona.key)
    return None


def _failed_call(persona: Persona, scope: str, inputs: dict) -> dict:
    """Provider requests the failed call made and the provider's error, from the
    generation's last log row."""
    try:
        key = prompt_context_hash(prompt=active_prompt(key=persona.prompt_key), inputs=inputs)
    except DomainError:
        return {"attempt_count": 0, "provider_error": ""}
    log = (
        GenerationLog.objects.filter(
            generation__kind=KIND_REVIEW, generation__scope=scope, generation__context_hash=key
        )
        .order_by("-created_at")
        .values("attempts", "error")
        .first()
    )
    if log is None:
        return {"attempt_count": 0, "provider_error": ""}
    return {"attempt_count": log["attempts"], "provider_error": log["error"][:500]}


def _record_review_failure(run: Run, persona: Persona, failure: dict) -> None:
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(
            provider_calls=F("provider_calls") + failure.get("attempt_count", 0),
            updated_at=timezone.now(),
        )
        _append_event(
            run.pk,
            EventType.REVIEW_FAILED,
            step="review",
            persona_key=persona.key,
            data={"persona": persona.key, "error": failure},
        )


# --- step 3 and 4: aggregate, complete -------------------------------------------------------


def _decide(run: Run) -> None:
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
            _append_event(run.pk, EventType.DECISION_STORED, step="aggregate", data=outcome)
        updated = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.COMPLETED,
            overall_weighted_confidence=weighted,
            decision_label=outcome["label"],
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
        )
        if updated:
            _append_event(
                run.pk,
                EventType.RUN_COMPLETED,
                data={"status": RunStatus.COMPLETED, "decision_label": outcome["label"]},
            )


def _notes(outcome: dict) -> str:
    parts = [f"{outcome['label']} at weighted confidence {outcome['overall_weighted_confidence']}"]
    if outcome["blocking_personas"]:
        parts.append("blocking issues from " + ", ".join(outcome["blocking_personas"]))
    return "; ".join(parts) + "."


# --- recovery ---------------------------------------------------------------------------------


def recover_runs() -> list[str]:
    """Queue again every running run whose worker's lease ran out, or that no worker
    ever took (its task was lost). The task itself decides, under the lease."""
    now = timezone.now()
    lease = timedelta(seconds=settings.REVIEWS_LEASE_SECONDS)
    stuck = Run.objects.filter(status=RunStatus.RUNNING).filter(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, created_at__lt=now - lease)
    )
    ids = [str(pk) for pk in stuck.values_list("pk", flat=True)]
    from django_q.tasks import async_task

    for run_id in ids:
        async_task(TASK, run_id, task_name=f"review run {run_id} (recovery)")
    return ids
