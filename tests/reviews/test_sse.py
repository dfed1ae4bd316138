"""A run followed over SSE on a real ASGI server: a client that drops mid-run and
reconnects with Last-Event-ID receives every run event exactly once, in order."""

import json
import threading

import httpx
import pytest
from django.db import connection

from reviews import tasks
from reviews.lifecycle import EventType
from reviews.models import RunEvent
from tests.generation.sse_client import parse
from tests.reviews.builders import run_url, start_run, token_for
from tests.servers import asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _read(url: str, *, token: str, last_event_id: int | None = None, until=None) -> list:
    headers = {"Authorization": f"Token {token}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events = []
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in parse(response.iter_lines()):
            events.append(event)
            if until is not None and until(event):
                break  # the client goes away mid-run
    return events


def _work(run_id: str) -> None:
    try:
        tasks.execute_run(run_id)
    finally:
        connection.close()


def test_an_sse_client_that_reconnects_mid_run_gets_every_event_exactly_once(member, fake_openai):
    # Reviews take a while, so the client drops and comes back while the run goes on.
    fake_openai.delay(0).delay(0.6, times=None)
    run = start_run(member=member, idea="Team offsites planner")
    token = token_for(member)

    with asgi_server() as server:
        url = f"{server.url}{run_url(run)}events"
        worker = threading.Thread(target=_work, args=(str(run.pk),))
        worker.start()
        try:
            first = _read(url, token=token, until=lambda e: e.name == EventType.PROPOSAL_STORED)
            assert not RunEvent.objects.filter(run=run, type=EventType.RUN_COMPLETED).exists()
            second = _read(url, token=token, last_event_id=first[-1].id)
        finally:
            worker.join(timeout=60)

        # A client that comes back after the end gets nothing again, and the stream ends.
        assert _read(url, token=token, last_event_id=second[-1].id) == []

    received = [e.id for e in first + second]
    stored = list(RunEvent.objects.filter(run=run).order_by("id").values_list("id", flat=True))
    assert received == stored  # each once, in order, nothing missing
    names = [e.name for e in first + second]
    assert names[0] == EventType.RUN_CREATED
    assert EventType.PROPOSAL_TEXT in names
    assert names.count(EventType.REVIEW_STORED) == 5
    assert names[-2:] == [EventType.DECISION_STORED, EventType.RUN_COMPLETED]
    text = "".join(e.data["text"] for e in first + second if e.name == EventType.PROPOSAL_TEXT)
    proposal = next(e for e in first if e.name == EventType.PROPOSAL_STORED).data["proposal"]
    assert json.loads(text)["title"] == proposal["title"]
