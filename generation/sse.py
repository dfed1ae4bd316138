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
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

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
from generation.streams import StreamCursor, StreamSnapshot, events_from, read_stream


def _state(generation: Generation) -> dict:
    return dict(GenerationSerializer(generation).data)


def _authorize(request: HttpRequest, pk: int) -> JsonResponse | None:
    """None when the caller may follow generation `pk`; otherwise the error response."""
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
        visible = Generation.objects.filter(
            pk=pk, company__in=companies_for(user=user).values("pk")
        ).exists()
        if not visible:
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
        self.reads = 0  # how many reads were made (benchmarks)

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
            self.reads += 1
            future.add_done_callback(lambda _, key=key, entry=entry: self._forget(key, entry))
        # Shielded: a client that disconnects does not cancel the others' read.
        return await asyncio.shield(entry[1])

    def _forget(self, key: tuple[int, int], entry: tuple[float, asyncio.Future]) -> None:
        if self._reads.get(key) is entry:
            del self._reads[key]


shared_reads = SharedReads()


def _last_event_id(request: HttpRequest) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def _stream(generation_id: int, cursor: StreamCursor) -> AsyncIterator[str]:
    heartbeat = settings.EVERGREEN_SSE_HEARTBEAT
    ends_at = time.monotonic() + settings.EVERGREEN_SSE_MAX_SECONDS
    # Subscribe before the first read: a change after it wakes us.
    subscription = hub.subscribe(generation_id)
    try:
        yield "retry: 1000\n\n"
        next_beat = time.monotonic() + heartbeat
        not_before = time.monotonic()
        while True:
            snapshot = await shared_reads.read(
                generation_id, cursor.read_after, not_before=not_before
            )
            for event in events_from(snapshot=snapshot, cursor=cursor):
                yield event.encode()
            if cursor.finished:
                return
            now = time.monotonic()
            if now >= ends_at:
                return  # the client reconnects with Last-Event-ID and loses nothing
            if now >= next_beat:
                yield ": heartbeat\n\n"
                next_beat = now + heartbeat
            woken = await subscription.wait_async(min(next_beat, ends_at) - now)
            not_before = subscription.fired_at if woken else time.monotonic()
    finally:
        subscription.close()


async def generation_events(request: HttpRequest, pk: int) -> HttpResponse:
    denied = await sync_to_async(_authorize)(request, pk)
    if denied is not None:
        return denied
    cursor = StreamCursor(last_seq=_last_event_id(request))
    response = StreamingHttpResponse(_stream(pk, cursor), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
