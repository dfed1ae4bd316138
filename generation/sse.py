"""GET /api/generations/<id>/events: a generation followed live as Server-Sent Events.

An async view, so a client waiting for the next chunk costs a coroutine, not a
thread blocked on the database: it sleeps on the process's listener hub
(generation.events) and reads the database only when woken. Clients of one
generation that stand at the same chunk share one read per wake-up (a chunk
reaching 100 clients costs one read, not 100); reads run on a small thread
pool of their own and give their connection back when they end.

Events: `chunk` (id = the chunk's seq; data: seq, text, progress), `reset`
(the stream was retried: drop the text so far), then `done` or `failed` with
the generation's whole state, after which the response ends. A comment line is
sent as a heartbeat every `EVERGREEN_SSE_HEARTBEAT` seconds. Resuming with
`Last-Event-ID: k` (or `?last_event_id=k`) replays every chunk after k once.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from companies.selectors import companies_for
from core.api import error_body
from generation.events import hub, release_connection
from generation.models import Generation
from generation.serializers import GenerationSerializer
from generation.streams import (
    StreamCursor,
    StreamEvent,
    StreamSnapshot,
    events_from,
    read_stream,
)


def _state(generation: Generation) -> dict:
    return dict(GenerationSerializer(generation).data)


def authorize(request: HttpRequest, *, visible: Callable[[Any], bool]) -> JsonResponse | None:
    """None when the caller (session or token) may see the object, `visible(user)`
    deciding; otherwise the error response: 401, or 404 for another company's object.
    Runs synchronously (wrap it in sync_to_async) and gives its connection back."""
    try:
        user = request.user if request.user.is_authenticated else None
        if user is None:
            found = TokenAuthentication().authenticate(request)
            user = found[0] if found else None
        if user is None:
            return JsonResponse(
                error_body("not_authenticated", "Authentication credentials were not provided."),
                status=401,
                headers={"WWW-Authenticate": "Token"},
            )
        if not visible(user):
            return JsonResponse(error_body("not_found", "Not found."), status=404)
        return None
    except exceptions.AuthenticationFailed as exc:
        return JsonResponse(
            error_body("authentication_failed", str(exc.detail)),
            status=401,
            headers={"WWW-Authenticate": "Token"},
        )
    finally:
        release_connection()


# Reads for SSE clients: few threads, so a burst of wake-ups queues here instead of
# contending for the interpreter and the connection pool.
_READERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="evergreen-sse-read")


def _read(generation_id: int, after: int) -> StreamSnapshot:
    try:
        return read_stream(generation_id=generation_id, after=after, state=_state)
    finally:
        release_connection()


class SharedReads:
    """One read per (generation, seq) for all the clients of this process woken together.

    A client may join a read only if it started after the client's wake-up was
    sent: that read then sees whatever the wake-up announced.
    """

    def __init__(self) -> None:
        self._reads: dict[tuple[int, int], tuple[float, asyncio.Future]] = {}

    async def read(self, generation_id: int, after: int, *, not_before: float) -> StreamSnapshot:
        key = (generation_id, after)
        entry = self._reads.get(key)
        if entry is None or entry[0] < not_before:
            started = time.monotonic()
            future = asyncio.get_running_loop().run_in_executor(
                _READERS, _read, generation_id, after
            )
            entry = (started, future)
            self._reads[key] = entry
            future.add_done_callback(lambda _, key=key, entry=entry: self._forget(key, entry))
        # Shielded: a client that disconnects does not cancel the others' read.
        return await asyncio.shield(entry[1])

    def _forget(self, key: tuple[int, int], entry: tuple[float, asyncio.Future]) -> None:
        if self._reads.get(key) is entry:
            del self._reads[key]


shared_reads = SharedReads()


# (not_before) -> (events to send, whether the stream has ended)
Step = Callable[[float], Awaitable[tuple[list[StreamEvent], bool]]]


async def follow(*, key: int | str, step: Step) -> AsyncIterator[str]:
    """The SSE loop for anything that notifies the hub under `key`: read what is new
    (`step`), send it, sleep on the hub until woken; heartbeats, and an end after
    EVERGREEN_SSE_MAX_SECONDS (the client resumes with Last-Event-ID).

    `step(not_before)` must read state as of a moment after `not_before`, the time
    the wake-up was sent, so it sees whatever the wake-up announced."""
    heartbeat = settings.EVERGREEN_SSE_HEARTBEAT
    ends_at = time.monotonic() + settings.EVERGREEN_SSE_MAX_SECONDS
    # Subscribe before the first read: a change after it wakes us.
    subscription = hub.subscribe(key)
    try:
        yield "retry: 1000\n\n"
        next_beat = time.monotonic() + heartbeat
        not_before = time.monotonic()
        while True:
            events, finished = await step(not_before)
            for event in events:
                yield event.encode()
            if finished:
                return
            now = time.monotonic()
            if now >= ends_at:
                return
            if now >= next_beat:
                yield ": heartbeat\n\n"
                next_beat = now + heartbeat
            woken = await subscription.wait_async(min(next_beat, ends_at) - now)
            not_before = subscription.fired_at if woken else time.monotonic()
    finally:
        subscription.close()


def event_stream_response(stream: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def last_event_id(request: HttpRequest) -> int | None:
    """The Last-Event-ID header a reconnecting client sends (or ?last_event_id=)."""
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def generation_events(request: HttpRequest, pk: int) -> HttpResponse:
    def visible(user) -> bool:
        companies = companies_for(user=user).values("pk")
        return Generation.objects.filter(pk=pk, company__in=companies).exists()

    denied = await sync_to_async(authorize)(request, visible=visible)
    if denied is not None:
        return denied
    cursor = StreamCursor(last_seq=last_event_id(request))

    async def step(not_before: float) -> tuple[list[StreamEvent], bool]:
        snapshot = await shared_reads.read(pk, cursor.read_after, not_before=not_before)
        return events_from(snapshot=snapshot, cursor=cursor), cursor.finished

    return event_stream_response(follow(key=pk, step=step))
