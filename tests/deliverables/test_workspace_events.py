"""The workspace page's event stream, against a real uvicorn server on the test
database: scoped to the member's companies, it reports a display as soon as it lands
(or fails), loses nothing across a reconnect, ends when nothing is pending, and
waiting on it holds no database connection."""

import threading
import time
import uuid

import httpx
import pytest
from django.conf import settings
from django.test import Client

from deliverables.services import transform_deliverable
from generation.errors import ProviderError
from tests.builders import make_member
from tests.deliverables.builders import (
    give_current_displays,
    make_deliverables,
    make_workspace,
    mark_queued,
)
from tests.generation.sse_client import Event, parse
from tests.processes import test_database_url as database_url
from tests.processes import wait_until
from tests.servers import ConnectionSampler, asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    # The default heartbeat (15 s): a stream then reads again on a wake-up, or only
    # every generation.events.MAX_SLICE (5 s) without one.
    with django_db_blocker.unblock(), asgi_server() as running:
        yield running


def session_of(user) -> dict[str, str]:
    """The Cookie header of a signed-in session, as the page's EventSource sends it."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return {"Cookie": f"{name}={client.cookies[name].value}"}


@pytest.fixture
def cookies(member) -> dict[str, str]:
    return session_of(member.user)


def events_url(server, workspace, *deliverables) -> str:
    ids = ",".join(str(d.pk) for d in deliverables)
    return f"{server.url}/workspaces/{workspace.pk}/events?ids={ids}"


class Reader(threading.Thread):
    """Reads one stream in the background; `events` fill in as they arrive, each with
    the time it arrived."""

    def __init__(self, url: str, cookies: dict, *, stop_after: int | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.cookies, self.stop_after = url, cookies, stop_after
        self.events: list[tuple[float, Event]] = []
        self.status: int | None = None
        self.connected = threading.Event()

    def run(self) -> None:
        with httpx.stream("GET", self.url, headers=self.cookies, timeout=30) as response:
            self.status = response.status_code
            self.connected.set()
            for event in parse(response.iter_lines()):
                self.events.append((time.monotonic(), event))
                if self.stop_after is not None and len(self.events) >= self.stop_after:
                    break  # the client goes away

    def names(self) -> list[tuple[str, dict]]:
        return [(event.name, event.data) for _, event in self.events]


def read_all(url: str, cookies: dict) -> list[tuple[str, dict]]:
    reader = Reader(url, cookies)
    reader.run()
    return reader.names()


def test_a_display_that_lands_is_reported_at_once_then_the_stream_ends(
    server, cookies, workspace, provider
):
    waiting, ready = make_deliverables(workspace=workspace, count=2)
    mark_queued(waiting, ready)
    reader = Reader(events_url(server, workspace, waiting, ready), cookies)
    reader.start()
    assert reader.connected.wait(10) and reader.status == 200
    time.sleep(0.5)  # the stream has read the states once: both pending
    assert reader.events == []

    landed_at = time.monotonic()
    transform_deliverable(deliverable_id=ready.pk)
    wait_until(lambda: reader.events, timeout=10, message="no event")
    # Woken by the writer, not found by a later read (those come every 5 s).
    assert reader.events[0][0] - landed_at < 3
    assert reader.names() == [("display", {"id": ready.pk, "state": "current"})]

    transform_deliverable(deliverable_id=waiting.pk)
    reader.join(10)
    assert not reader.is_alive()  # nothing pending any more: the response ended
    assert reader.names()[1:] == [("display", {"id": waiting.pk, "state": "current"}), ("end", {})]


def test_a_display_that_fails_is_reported_failed(server, cookies, workspace, provider):
    (deliverable,) = make_deliverables(workspace=workspace, count=1)
    mark_queued(deliverable)
    reader = Reader(events_url(server, workspace, deliverable), cookies)
    reader.start()
    assert reader.connected.wait(10)

    provider.fail_with = ProviderError("model is down", transient=False)
    transform_deliverable(deliverable_id=deliverable.pk)
    reader.join(10)

    assert reader.names() == [("display", {"id": deliverable.pk, "state": "failed"}), ("end", {})]


def test_a_client_that_reconnects_gets_what_landed_while_it_was_away(
    server, cookies, workspace, provider
):
    first, second = make_deliverables(workspace=workspace, count=2)
    mark_queued(first, second)
    url = events_url(server, workspace, first, second)
    away = Reader(url, cookies, stop_after=1)
    away.start()
    assert away.connected.wait(10)
    transform_deliverable(deliverable_id=first.pk)
    away.join(10)
    assert away.names() == [("display", {"id": first.pk, "state": "current"})]

    transform_deliverable(deliverable_id=second.pk)  # while nobody listens

    # The browser comes back with the same URL: everything settled since is reported.
    assert read_all(url, cookies) == [
        ("display", {"id": first.pk, "state": "current"}),
        ("display", {"id": second.pk, "state": "current"}),
        ("end", {}),
    ]


def test_nothing_pending_ends_at_once_and_unknown_ids_are_gone(
    server, cookies, workspace, other_company
):
    (current,) = make_deliverables(workspace=workspace, count=1)
    give_current_displays(workspace=workspace)
    (theirs,) = make_deliverables(workspace=make_workspace(company=other_company), count=1)

    assert read_all(events_url(server, workspace), cookies) == [("end", {})]
    assert read_all(events_url(server, workspace, current, theirs), cookies) == [
        ("display", {"id": current.pk, "state": "current"}),
        ("display", {"id": theirs.pk, "state": "gone"}),
        ("end", {}),
    ]


def test_another_companys_workspace_is_404_and_anonymous_is_401(
    server, cookies, company, other_company
):
    theirs = make_workspace(company=other_company, name="Theirs")
    url = events_url(server, theirs)
    assert httpx.get(url, headers=cookies, timeout=10).status_code == 404
    assert httpx.get(f"{server.url}/workspaces/999999/events", headers=cookies).status_code == 404
    assert httpx.get(url, timeout=10).status_code == 401
    viewer = make_member(company=other_company, role="viewer").user
    assert read_all(url, session_of(viewer)) == [("end", {})]


def test_waiting_streams_hold_no_database_connection(cookies, workspace):
    if not database_url().startswith("postgres"):
        pytest.skip("counts PostgreSQL connections")
    deliverables = make_deliverables(workspace=workspace, count=3)
    mark_queued(*deliverables)
    url = f"/workspaces/{workspace.pk}/events?ids={','.join(str(d.pk) for d in deliverables)}"
    application_name = f"evergreen-ws-{uuid.uuid4().hex[:12]}"
    streams = 12
    # Without the pool a connection that is not given back stays open: it shows.
    with asgi_server(
        DB_APPLICATION_NAME=application_name, DB_POOL="false", SSE_MAX_SECONDS="5"
    ) as running:
        readers = [Reader(f"{running.url}{url}", cookies) for _ in range(streams)]
        for reader in readers:
            reader.start()
        assert all(r.connected.wait(10) and r.status == 200 for r in readers)
        time.sleep(1.0)  # every stream has read the states and sleeps on the hub
        sampler = ConnectionSampler(application_name)
        sampler.start()
        time.sleep(1.0)
        sampler.stop()
        assert all(r.is_alive() for r in readers)
        # Past SSE_MAX_SECONDS each stream ends without `end`: the browser reconnects.
        for reader in readers:
            reader.join(10)
        assert all(not r.is_alive() and r.names() == [] for r in readers)

    # The hub's one LISTEN connection, whatever the number of streams.
    assert sampler.samples > 10
    assert sampler.peak == 1, sampler.peak


def test_heartbeats_keep_a_waiting_stream_alive(cookies, workspace):
    (deliverable,) = make_deliverables(workspace=workspace, count=1)
    mark_queued(deliverable)
    with asgi_server(SSE_HEARTBEAT_SECONDS="0.3", SSE_MAX_SECONDS="2") as running:
        url = f"{running.url}/workspaces/{workspace.pk}/events?ids={deliverable.pk}"
        with httpx.stream("GET", url, headers=cookies, timeout=10) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            lines = list(response.iter_lines())
    assert lines.count(": heartbeat") >= 3
