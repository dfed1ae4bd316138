"""Streamed generations: ordered Chunk rows in the database are the single source
of truth; every commit of a chunk notifies the listeners."""

import time

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from pydantic import BaseModel

from generation.errors import InvalidOutput, ProviderError
from generation.models import Chunk, Generation, GenerationStatus
from generation.notify import notify_generation
from generation.providers import ProviderResult

# Seconds between two chunk writes of a streamed generation.
STREAM_FLUSH_SECONDS = 0.1


def stream_into(generation, provider, request, *, schema) -> ProviderResult:
    """Write deltas as ordered Chunk rows, a few times a second, and notify after each commit.

    An attempt starts the text again. Chunks of an earlier attempt (a retry, or a
    crashed owner whose claim was taken over) are dropped, and numbering goes on
    after them, so a reader that resumes after a seq it saw never skips new text.
    """
    last_seq = Chunk.objects.filter(generation=generation).aggregate(m=Max("seq"))["m"]
    Chunk.objects.filter(generation=generation).delete()
    Generation.objects.filter(pk=generation.pk).update(
        status=GenerationStatus.STREAMING, text="", updated_at=timezone.now()
    )
    text, pending = "", []
    seq = 0 if last_seq is None else last_seq + 1
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal pending, seq
        if not pending:
            return
        piece = "".join(pending)
        pending = []
        with transaction.atomic():
            Chunk.objects.create(generation=generation, seq=seq, text=piece)
            Generation.objects.filter(pk=generation.pk).update(text=text, updated_at=timezone.now())
            transaction.on_commit(lambda: notify_generation(generation.pk))
        seq += 1

    for event in provider.stream_text(request, schema):
        if isinstance(event, ProviderResult):
            flush()
            if schema is not None:
                event.parsed = validate_streamed(schema, event.text)
            return event
        text += event
        pending.append(event)
        if time.monotonic() - last_flush >= STREAM_FLUSH_SECONDS:
            flush()
            last_flush = time.monotonic()
    raise ProviderError("stream ended without a final result", transient=True)


def validate_streamed(schema: type[BaseModel], text: str) -> dict:
    try:
        return schema.model_validate_json(text).model_dump(mode="json")
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidOutput(
            f"streamed output does not match {schema.__name__}", raw_text=text
        ) from exc
