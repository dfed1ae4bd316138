"""Streamed generations: ordered Chunk rows in the database are the single source
of truth; every commit of a chunk notifies the listeners."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Length
from django.utils import timezone
from pydantic import BaseModel

from generation.errors import InvalidOutput, ProviderError
from generation.events import notify_generation
from generation.models import Chunk, Generation, GenerationStatus
from generation.providers import ProviderResult

# Seconds between two chunk writes of a streamed generation.
STREAM_FLUSH_SECONDS = 0.1


def start_attempt(*, generation: Generation) -> int:
    """Begin a stream attempt: drop the chunks of any earlier one and return the
    first seq of this one, above every seq a reader may have seen. Readers that
    saw an earlier attempt's chunks are sent a reset (see `events_from`)."""
    with transaction.atomic():
        row = Generation.objects.select_for_update().get(pk=generation.pk)
        last_seq = Chunk.objects.filter(generation=row).aggregate(m=Max("seq"))["m"]
        start = max(row.stream_start_seq, -1 if last_seq is None else last_seq + 1)
        Chunk.objects.filter(generation=row).delete()
        Generation.objects.filter(pk=row.pk).update(
            status=GenerationStatus.STREAMING,
            text="",
            stream_start_seq=start,
            updated_at=timezone.now(),
        )
        transaction.on_commit(lambda: notify_generation(row.pk))
    generation.stream_start_seq = start
    return start


def stream_into(generation, provider, request, *, schema) -> ProviderResult:
    """Write deltas as ordered Chunk rows, a few times a second, and notify after each commit.

    An attempt starts the text again. Chunks of an earlier attempt (a retry, or a
    crashed owner whose claim was taken over) are dropped, and numbering goes on
    after them, so a reader that resumes after a seq it saw never skips new text.
    """
    seq = start_attempt(generation=generation)
    text, pending = "", []
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


# --- reading a stream: progress, replay after Last-Event-ID, the final state ----------

# Before any generation of a kind has completed, a stream is expected to be this long.
DEFAULT_EXPECTED_CHARS = 1500
# How many recent completed generations of the kind set the expected length.
EXPECTED_SAMPLE = 20


def expected_chars(*, kind: str) -> int:
    """The mean text length of the kind's recent completed generations."""
    lengths = list(
        Generation.objects.filter(kind=kind, status=GenerationStatus.COMPLETED)
        .exclude(text="")
        .order_by("-completed_at")
        .annotate(n=Length("text"))
        .values_list("n", flat=True)[:EXPECTED_SAMPLE]
    )
    return int(sum(lengths) / len(lengths)) if lengths else DEFAULT_EXPECTED_CHARS


def progress(*, generation: Generation, expected: int) -> int:
    """0-100. Completed is 100, pending 0; while streaming, the text so far against the
    expected length of the kind, held at 99 until the generation completes."""
    if generation.status == GenerationStatus.COMPLETED:
        return 100
    if generation.status == GenerationStatus.PENDING or not generation.text:
        return 0
    return max(1, min(99, len(generation.text) * 100 // max(expected, 1)))


@dataclass
class StreamEvent:
    name: str  # chunk, reset, done or failed
    data: dict[str, Any]
    id: int | None = None

    def encode(self) -> str:
        """The event in text/event-stream framing (JSON data has no raw newlines)."""
        payload = json.dumps(self.data, cls=DjangoJSONEncoder, separators=(",", ":"))
        head = f"id: {self.id}\n" if self.id is not None else ""
        return f"{head}event: {self.name}\ndata: {payload}\n\n"


@dataclass
class StreamCursor:
    """What one client has seen: the last chunk seq, and the attempt it belongs to."""

    last_seq: int | None = None
    attempt_start: int | None = None
    finished: bool = False

    @property
    def read_after(self) -> int:
        return -1 if self.last_seq is None else self.last_seq


@dataclass
class StreamSnapshot:
    """One consistent read of a stream: its state and its chunks after a seq. Every
    client of a process that stands at that seq can share it."""

    found: bool
    status: str = ""
    stream_start_seq: int = 0
    progress: int = 0
    chunks: list[tuple[int, str]] = field(default_factory=list)
    # The generation's whole state, once it has finished.
    final_state: dict[str, Any] | None = None


# Expected lengths per kind, kept a minute: one aggregate per kind, not one per read.
_expected: dict[str, tuple[float, int]] = {}


def _expected_chars_cached(kind: str) -> int:
    now = time.monotonic()
    hit = _expected.get(kind)
    if hit is None or now - hit[0] > 60:
        hit = (now, expected_chars(kind=kind))
        _expected[kind] = hit
    return hit[1]


def read_stream(
    *, generation_id: int, after: int, state: Callable[[Generation], dict[str, Any]]
) -> StreamSnapshot:
    """The generation and its chunks with seq > `after`, as of one moment.

    Chunks are read between two reads of the generation; when its status or
    attempt changed in between, the read is done again, so a snapshot never
    pairs `done` with missing chunks, nor one attempt's state with another's
    chunks. `state(generation)` renders the final state of a finished one.
    """
    for _ in range(5):
        generation = Generation.objects.filter(pk=generation_id).first()
        if generation is None:
            return StreamSnapshot(found=False)
        chunks = list(
            Chunk.objects.filter(generation_id=generation_id, seq__gt=after)
            .order_by("seq")
            .values_list("seq", "text")
        )
        now = (
            Generation.objects.filter(pk=generation_id)
            .values_list("status", "stream_start_seq")
            .first()
        )
        if now == (generation.status, generation.stream_start_seq):
            break
    streaming = generation.status == GenerationStatus.STREAMING
    expected = _expected_chars_cached(generation.kind) if streaming else 0
    finished = generation.status in (GenerationStatus.COMPLETED, GenerationStatus.FAILED)
    return StreamSnapshot(
        found=True,
        status=generation.status,
        stream_start_seq=generation.stream_start_seq,
        progress=progress(generation=generation, expected=expected),
        chunks=chunks,
        final_state=state(generation) if finished else None,
    )


def events_from(*, snapshot: StreamSnapshot, cursor: StreamCursor) -> list[StreamEvent]:
    """The events a client at `cursor` has not had yet; the cursor moves past them.

    A client that saw chunks of an attempt that was thrown away (the stream was
    retried, or its owner died and another took over) first gets `reset`, then
    the current attempt from its beginning. The last event is `done` or `failed`
    once the generation has finished.
    """
    if not snapshot.found:
        cursor.finished = True
        return [StreamEvent("failed", {"status": "failed", "error": "The generation is gone."})]
    events: list[StreamEvent] = []
    start = snapshot.stream_start_seq
    if cursor.attempt_start is None:
        stale = cursor.last_seq is not None and cursor.last_seq < start
    else:
        stale = cursor.attempt_start != start
    if stale:
        events.append(StreamEvent("reset", {"stream_start_seq": start}))
        cursor.last_seq = None
    cursor.attempt_start = start
    after = start - 1 if cursor.last_seq is None else max(cursor.last_seq, start - 1)
    for seq, text in snapshot.chunks:
        if seq > after:
            data = {"seq": seq, "text": text, "progress": snapshot.progress}
            events.append(StreamEvent("chunk", data, id=seq))
            cursor.last_seq = seq
    if snapshot.final_state is not None:
        done = snapshot.status == GenerationStatus.COMPLETED
        events.append(StreamEvent("done" if done else "failed", snapshot.final_state))
        cursor.finished = True
    return events
