"""The model calls a run's steps make, how a step says it failed, and what the run
records of them: its provider calls (summed from the ledger) and who made its content."""

from django.utils import timezone

from core.errors import DomainError
from generation.flight import GenerationResult, Source, get_or_generate
from generation.ledger import calls_of
from generation.public import public_message
from reviews.errors import StepFailed
from reviews.models import Run


def run_origin(run_id) -> str:
    """How a run's calls are named on the generation ledger."""
    return f"review-run:{run_id}"


def step_error(step: str, persona: str | None, code: str, detail: str = "", **extra) -> dict:
    """The error JSON of a failed step (stored on the run and in its events): the public
    sentence for its code, and the detail (provider or exception text) kept private."""
    error = {"step": step, "persona": persona, "code": code, "message": public_message(code)}
    if detail:
        error["provider_error"] = detail[:500]
    return {**error, **extra}


def generate(*, run_id, step: str, persona: str | None, **kwargs) -> GenerationResult:
    """get_or_generate on the run's behalf, with every way of not getting fresh content
    as a StepFailed: a review of another proposal (fallback content) is never accepted."""
    try:
        result = get_or_generate(origin=run_origin(run_id), **kwargs)
    except DomainError as exc:  # provider unavailable, budget spent, prompt missing
        raise StepFailed(step_error(step, persona, exc.code, exc.detail)) from exc
    if result.source in (Source.FALLBACK, Source.STALE):
        code = result.failure.code if result.failure else "provider_unavailable"
        raise StepFailed(step_error(step, persona, code, result.error))
    return result


def provider_calls(result: GenerationResult) -> int:
    """Provider requests this result cost the run: none when someone else made them."""
    return result.generation.attempts if result.source == Source.GENERATED else 0


def _joined(current: str, name: str) -> str:
    names = {n for n in current.split(", ") if n}
    if name:
        names.add(name)
    return ", ".join(sorted(names))[:100]


def record_step(*, run_id, result: GenerationResult | None = None) -> None:
    """Bring the run's figures up to date after a step: its provider calls from the
    ledger (a dead worker's included) and, when the step got content, the provider and
    model that made it. Call inside the step's transaction, after append_event locked
    the run's row (so concurrent reviews merge rather than overwrite)."""
    fields = {"provider_calls": calls_of(run_origin(run_id)), "updated_at": timezone.now()}
    if result is not None:
        made = Run.objects.filter(pk=run_id).values("provider", "model").first() or {}
        fields["provider"] = _joined(made.get("provider", ""), result.generation.provider)
        fields["model"] = _joined(made.get("model", ""), result.generation.model)
    Run.objects.filter(pk=run_id).update(**fields)
