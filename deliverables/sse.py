"""GET /workspaces/<id>/events?ids=1,2,3: the displays a workspace page waits for,
followed as Server-Sent Events.

The page lists the deliverables it shows as pending in `ids`. The stream sends a
`display` event (data: id, state) each time one of them changes state
(services.live.DisplayState: current, failed, none, gone, or pending again), a
heartbeat comment every EVERGREEN_SSE_HEARTBEAT seconds, and `end` once none of them
is pending, after which the response ends; it also ends after
EVERGREEN_SSE_MAX_SECONDS, and the browser reconnects.

Reconnecting is safe without Last-Event-ID: a stream starts by reporting every
deliverable of `ids` that is no longer pending, so whatever landed while the client
was away is reported again (the page ignores cards it no longer waits for).

An async view built on generation.sse: it sleeps on the process's listener hub
under the workspace's key (services.wakeups) and holds no database connection
while it waits; each read runs on a worker thread and gives its connection back.
Nothing here counts as a cache hit: only the page view does.
"""

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from deliverables import selectors
from deliverables.cards import requested_ids
from deliverables.services.live import DisplayState, display_states
from deliverables.services.wakeups import workspace_key
from generation.events import release_connection
from generation.sse import authorize, event_stream_response, follow
from generation.streams import StreamEvent


def _read(workspace_id: int, ids: list[int]) -> dict[int, DisplayState]:
    try:
        return display_states(workspace_id=workspace_id, ids=ids)
    finally:
        release_connection()


async def workspace_events(request: HttpRequest, pk: int) -> HttpResponse:
    def visible(user) -> bool:
        return selectors.workspaces_for(user=user).filter(pk=pk).exists()

    denied = await sync_to_async(authorize)(request, visible=visible)
    if denied is not None:
        return denied
    ids = requested_ids(request.GET.get("ids", ""))
    # What the page showed: every one of them pending.
    sent = dict.fromkeys(ids, DisplayState.PENDING)

    async def step(not_before: float) -> tuple[list[StreamEvent], bool]:
        states = await sync_to_async(_read, thread_sensitive=False)(pk, ids)
        events = []
        for deliverable_id, state in states.items():
            if sent[deliverable_id] != state:
                sent[deliverable_id] = state
                events.append(StreamEvent("display", {"id": deliverable_id, "state": state}))
        finished = DisplayState.PENDING not in sent.values()
        if finished:
            events.append(StreamEvent("end", {}))
        return events, finished

    return event_stream_response(follow(key=workspace_key(pk), step=step))
