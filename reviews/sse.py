"""GET /api/reviews/runs/<id>/events: a run followed live as Server-Sent Events.

Every event is a RunEvent row and its id is the row's id, so one integer covers the
whole run: the proposal text as it streams (`proposal_text`, `proposal_reset`),
each review as it lands, the decision, and the end (`run_completed` or
`run_failed`, after which the response ends). A run's events are committed in id
order (services.events.append_event locks the run first), so a client that resumes with
`Last-Event-ID: n` (or `?last_event_id=n`) gets every event after n exactly once.
Built on generation.sse: the same authorization, loop, heartbeats and framing.
"""

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse

from companies.selectors import companies_for
from generation.sse import authorize, event_stream_response, follow, last_event_id
from generation.streams import StreamEvent
from reviews import selectors
from reviews.errors import public
from reviews.lifecycle import TERMINAL
from reviews.models import Run, RunEvent
from reviews.services import run_key


def event_payload(event: RunEvent) -> dict:
    return {
        "type": event.type,
        "step": event.step,
        "persona": event.persona_key or None,
        "at": event.created_at,
        **public(event.data),
    }


def _read(run_id, after: int) -> tuple[str | None, list[RunEvent]]:
    try:
        return selectors.events_after(run_id=run_id, after=after)
    finally:
        connection.close()


async def run_events(request: HttpRequest, pk) -> HttpResponse:
    def visible(user) -> bool:
        companies = companies_for(user=user).values("pk")
        return Run.objects.filter(pk=pk, company__in=companies).exists()

    denied = await sync_to_async(authorize)(request, visible=visible)
    if denied is not None:
        return denied
    cursor = {"last": last_event_id(request) or 0}

    async def step(not_before: float) -> tuple[list[StreamEvent], bool]:
        status, rows = await sync_to_async(_read, thread_sensitive=False)(pk, cursor["last"])
        if rows:
            cursor["last"] = rows[-1].id
        events = [StreamEvent(row.type, event_payload(row), id=row.id) for row in rows]
        return events, status is None or status in TERMINAL

    return event_stream_response(follow(key=run_key(pk), step=step))
