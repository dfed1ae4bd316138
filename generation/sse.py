"""GET /api/generations/<id>/events: a generation followed live as Server-Sent Events.

An async view, so a client waiting for the next chunk costs a coroutine, not a
thread blocked on the database: it sleeps on the process's listener hub
(generation.events) and reads the database only when woken. Every read runs
in a short synchronous step that gives its connection back when it ends.

Events: `chunk` (id = the chunk's seq; data: seq, text, progress), `reset`
(the stream was retried: drop the text so far), then `done` or `failed` with
the generation's whole state, after which the response ends. A comment line is
sent as a heartbeat every `EVERGREEN_SSE_HEARTBEAT` seconds. Resuming with
`Last-Event-ID: k` (or `?last_event_id=k`) replays every chunk after k once.
"""

import time
from collections.abc import AsyncIterator

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
from generation.streams import StreamCursor, StreamEvent, events_after


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


def _read(generation_id: int, cursor: StreamCursor) -> list[StreamEvent]:
    try:
        return events_after(generation_id=generation_id, cursor=cursor, state=_state)
    finally:
        release_connection()


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
        while True:
            for event in await sync_to_async(_read)(generation_id, cursor):
                yield event.encode()
            if cursor.finished:
                return
            now = time.monotonic()
            if now >= ends_at:
                return  # the client reconnects with Last-Event-ID and loses nothing
            if now >= next_beat:
                yield ": heartbeat\n\n"
                next_beat = now + heartbeat
            await subscription.wait_async(min(next_beat, ends_at) - now)
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
