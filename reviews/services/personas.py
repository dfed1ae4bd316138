"""The personas and the review step: every active persona reviews the proposal at once,
each review committed with its event as it lands."""

import logging
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from core.errors import DomainError
from generation.models import GenerationLog
from generation.production import CONNECTION_ERRORS
from generation.prompts import active_prompt, prompt_context_hash
from reviews.conf import RetrySettings
from reviews.errors import StepFailed
from reviews.lifecycle import EventType
from reviews.models import Persona, PersonaReview, ProposalVersion, Run
from reviews.schemas import PROPOSAL_SECTIONS, PersonaReviewOutput
from reviews.services.calls import generate, provider_calls, record_step, step_error
from reviews.services.events import append_event

logger = logging.getLogger(__name__)

KIND_REVIEW = "persona_review"


def active_personas() -> list[Persona]:
    return list(Persona.objects.filter(is_active=True).order_by("order", "key"))


def persona_template_version(personas: list[Persona]) -> dict[str, int]:
    return {p.key: active_prompt(key=p.prompt_key).version for p in personas}


def persona_inputs(*, persona: Persona, proposal: dict) -> dict:
    """What a persona is asked about: the proposal's title and the sections it reads.
    Unchanged sections mean unchanged inputs, so the review comes from the cache."""
    sections = persona.sections or list(PROPOSAL_SECTIONS)
    return {
        "persona": persona.key,
        "title": proposal.get("title", ""),
        "sections": {name: proposal.get(name) for name in sections},
    }


def review_all(*, run: Run, proposal: ProposalVersion) -> list[dict]:
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
    except CONNECTION_ERRORS:
        raise  # not the persona's failure: the run is interrupted, and resumes
    except Exception as exc:
        logger.exception("review run %s: persona %s crashed", run.pk, persona.key)
        return step_error("review", persona.key, "internal", repr(exc)[:500])
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
        result = generate(
            run_id=run.pk,
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
        failure = step_error("review", persona.key, "invalid_output", str(exc)[:500])
        _record_review_failure(run, persona, failure)
        return failure
    prompt = result.generation.prompt
    review = parsed.model_dump(mode="json")
    confidence = Decimal(str(parsed.confidence_score)).quantize(Decimal("0.0001"))
    attempts = provider_calls(result)
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
            append_event(
                run_id=run.pk,
                event_type=EventType.REVIEW_STORED,
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
            record_step(run_id=run.pk, result=result)
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
        append_event(
            run_id=run.pk,
            event_type=EventType.REVIEW_FAILED,
            step="review",
            persona_key=persona.key,
            data={"persona": persona.key, "error": failure},
        )
        record_step(run_id=run.pk)
