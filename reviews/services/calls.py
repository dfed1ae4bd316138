"""The model calls a run's steps make, and how a step says it failed."""

from core.errors import DomainError
from generation.flight import GenerationResult, Source, get_or_generate
from reviews.errors import StepFailed


def step_error(step: str, persona: str | None, code: str, message: str, **extra) -> dict:
    """The error JSON of a failed step (stored on the run and in its events)."""
    return {"step": step, "persona": persona, "code": code, "message": message, **extra}


def generate(*, step: str, persona: str | None, **kwargs) -> GenerationResult:
    """get_or_generate, with every way of not getting fresh content as a StepFailed:
    a review of another proposal (fallback content) is never accepted."""
    try:
        result = get_or_generate(**kwargs)
    except DomainError as exc:  # provider unavailable, budget spent, prompt missing
        raise StepFailed(step_error(step, persona, exc.code, exc.message)) from exc
    if result.source in (Source.FALLBACK, Source.STALE):
        raise StepFailed(step_error(step, persona, "provider_unavailable", result.error))
    return result


def provider_calls(result: GenerationResult) -> int:
    """Provider requests this result cost the run: none when someone else made them."""
    return result.generation.attempts if result.source == Source.GENERATED else 0
