"""Following a generation live over Server-Sent Events, against a real uvicorn server.

The server is a separate process on the test database, as in production; the
test writes chunks (or runs a real stream through the fake OpenAI server) and
reads the events with an HTTP client.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from generation.events import notify_generation
from generation.flight import get_or_generate
from generation.models import Chunk, Generation, GenerationStatus
from generation.streams import start_attempt
from tests.builders import make_company, make_member, make_prompt
from tests.generation.sse_client import Event, follow
from tests.servers import asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), asgi_server(SSE_HEARTBEAT_SECONDS="0.5") as running:
        yield running


@pytest.fixture
def token(company):
    return Token.objects.create(user=make_member(company=company).user).key


def events_url(server, generation: Generation) -> str:
    return f"{server.url}/api/generations/{generation.pk}/events"


def make_stream(company, *, chunks: int, status=GenerationStatus.STREAMING) -> Generation:
    generation = Generation.objects.create(
        kind="story",
        scope=f"company:{company.pk}",
        context_hash="a" * 64,
        company=company,
        stream=True,
        status=status,
    )
    add_chunks(generation, range(chunks))
    return generation


def add_chunks(generation: Generation, seqs) -> None:
    for seq in seqs:
        Chunk.objects.create(generation=generation, seq=seq, text=f"[{seq}]")
    text = "".join(Chunk.objects.filter(generation=generation).values_list("text", flat=True))
    Generation.objects.filter(pk=generation.pk).update(text=text)
    notify_generation(generation.pk)


def finish(generation: Generation, status=GenerationStatus.COMPLETED, **fields) -> None:
    Generation.objects.filter(pk=generation.pk).update(status=status, **fields)
    notify_generation(generation.pk)


def chunk_seqs(events: list[Event]) -> list[int]:
    return [e.id for e in events if e.name == "chunk"]


def follow_in_background(url: str, token: str, **kwargs):
    """Start a client on a thread; returns (future, list of events as they arrive)."""
    seen: list[Event] = []
    arrived = threading.Condition()

    def on_event(event: Event) -> None:
        with arrived:
            seen.append(event)
            arrived.notify_all()

    def wait_for(predicate, timeout=30) -> None:
        with arrived:
            assert arrived.wait_for(lambda: predicate(seen), timeout), seen

    pool = ThreadPoolExecutor(1)
    future = pool.submit(follow, url, token=token, on_event=on_event, **kwargs)
    pool.shutdown(wait=False)
    return future, wait_for


def test_client_reconnecting_with_last_event_id_gets_the_rest_exactly_once_then_done(
    server, company, token
):
    generation = make_stream(company, chunks=5)
    url = events_url(server, generation)

    first = follow(url, token=token, stop_after=3)  # goes away after chunk 2
    assert chunk_seqs(first) == [0, 1, 2]

    future, wait_for = follow_in_background(url, token, last_event_id=2)
    wait_for(lambda seen: 4 in chunk_seqs(seen))
    add_chunks(generation, [5, 6])  # live chunks after the replay
    wait_for(lambda seen: 6 in chunk_seqs(seen))
    finish(generation)
    events = future.result(timeout=30)

    assert chunk_seqs(events) == [3, 4, 5, 6]
    assert events[-1].name == "done"
    assert events[-1].data["status"] == "completed"
    assert events[-1].data["text"] == "".join(f"[{n}]" for n in range(7))
    assert events[-1].data["progress"] == 100


def test_client_connecting_mid_stream_first_gets_everything_so_far(server, company, token):
    generation = make_stream(company, chunks=3)
    future, wait_for = follow_in_background(events_url(server, generation), token)
    wait_for(lambda seen: chunk_seqs(seen) == [0, 1, 2])
    add_chunks(generation, [3])
    finish(generation)

    events = future.result(timeout=30)

    assert chunk_seqs(events) == [0, 1, 2, 3]
    progress = [e.data["progress"] for e in events if e.name == "chunk"]
    assert all(1 <= p <= 99 for p in progress[:3]) and progress == sorted(progress)
    assert [e.name for e in events][-1] == "done"


def test_failed_generation_ends_with_failed_and_its_public_error(server, company, token):
    generation = make_stream(company, chunks=2)
    future, wait_for = follow_in_background(events_url(server, generation), token)
    wait_for(lambda seen: len(seen) == 2)
    finish(
        generation,
        GenerationStatus.FAILED,
        error="HTTP 503: upstream connect error",
        error_code="provider_unavailable",
    )

    events = future.result(timeout=30)

    assert events[-1].name == "failed"
    assert events[-1].data["status"] == "failed"
    # The provider's own words stay in the log: the event says what the user may read.
    assert events[-1].data["error"] == "The model service is unavailable right now."


def test_retried_stream_sends_reset_then_the_new_attempt_from_its_start(server, company, token):
    generation = make_stream(company, chunks=3)
    future, wait_for = follow_in_background(events_url(server, generation), token)
    wait_for(lambda seen: chunk_seqs(seen) == [0, 1, 2])

    start = start_attempt(generation=generation)  # what a retry does
    add_chunks(generation, [start, start + 1])
    finish(generation)
    events = future.result(timeout=30)

    names = [e.name for e in events]
    assert names == ["chunk"] * 3 + ["reset", "chunk", "chunk", "done"]
    assert start == 3
    assert chunk_seqs(events)[3:] == [3, 4]
    assert events[-1].data["text"] == "[3][4]"


def test_reconnecting_with_an_id_from_a_thrown_away_attempt_gets_reset_first(
    server, company, token
):
    generation = make_stream(company, chunks=3)
    start = start_attempt(generation=generation)
    add_chunks(generation, [start])
    finish(generation)

    events = follow(events_url(server, generation), token=token, last_event_id=1)

    assert [e.name for e in events] == ["reset", "chunk", "done"]


def test_finished_generation_without_chunks_answers_done_at_once(server, company, token):
    generation = make_stream(company, chunks=0, status=GenerationStatus.COMPLETED)

    events = follow(events_url(server, generation), token=token)

    assert [e.name for e in events] == ["done"]


def test_idle_stream_sends_heartbeats_and_no_cache_headers(server, company, token):
    generation = make_stream(company, chunks=0, status=GenerationStatus.PENDING)
    headers = {"Authorization": f"Token {token}"}
    lines = []
    with httpx.stream("GET", events_url(server, generation), headers=headers, timeout=10) as r:
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"
        for line in r.iter_lines():
            lines.append(line)
            if line == ": heartbeat":
                break
    assert ": heartbeat" in lines


def test_another_company_generation_is_404_and_anonymous_is_401(server, company, token):
    stranger = make_stream(make_company(name="Globex"), chunks=1)
    headers = {"Authorization": f"Token {token}"}

    not_mine = httpx.get(events_url(server, stranger), headers=headers, timeout=10)
    anonymous = httpx.get(events_url(server, stranger), timeout=10)
    missing = httpx.get(f"{server.url}/api/generations/999999/events", headers=headers)

    assert not_mine.status_code == 404
    assert not_mine.json()["error"]["code"] == "not_found"
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert missing.status_code == 404


def test_real_stream_from_the_provider_is_followed_to_done(
    server, company, token, fake_openai, monkeypatch
):
    monkeypatch.setattr("generation.streams.STREAM_FLUSH_SECONDS", 0)
    make_prompt(key="story-prompt", template="Tell a story about {{ topic }}.")
    fake_openai.delay(1)  # time for the client to connect before the text arrives

    def produce():
        try:
            return get_or_generate(
                kind="story",
                scope=f"company:{company.pk}",
                prompt_key="story-prompt",
                inputs={"topic": "lighthouses"},
                company_id=company.pk,
                stream=True,
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        producing = pool.submit(produce)
        generation = None
        for _ in range(300):
            generation = Generation.objects.filter(kind="story").first()
            if generation is not None:
                break
            threading.Event().wait(0.01)
        assert generation is not None
        events = follow(events_url(server, generation), token=token)
        result = producing.result(timeout=30)

    text = "".join(e.data["text"] for e in events if e.name == "chunk")
    assert events[-1].name == "done"
    assert text == result.generation.text == events[-1].data["text"]
    assert len(chunk_seqs(events)) > 2
    assert fake_openai.calls == 1


def test_get_mid_stream_returns_the_text_so_far_and_progress(server, company, token):
    generation = make_stream(company, chunks=3)
    headers = {"Authorization": f"Token {token}"}

    state = httpx.get(f"{server.url}/api/generations/{generation.pk}/", headers=headers).json()

    assert state["status"] == "streaming"
    assert state["text"] == "[0][1][2]"
    assert 1 <= state["progress"] <= 99
    assert state["result"] is None
    assert state["events_url"] == f"/api/generations/{generation.pk}/events"
