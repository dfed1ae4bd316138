"""A generation made on one host is followed live from the other: the database is the
only place a stream lives, so any host serves any client, and a client that drops
from one host resumes on another with Last-Event-ID."""

import threading
import time

import httpx
import pytest
from rest_framework.authtoken.models import Token

from generation.models import Generation, GenerationStatus
from tests.builders import make_company, make_member
from tests.generation.sse_client import follow
from tests.processes import wait_until
from tests.recommendations.builders import make_journey

pytestmark = [pytest.mark.slow]


def chunk_text(events) -> str:
    return "".join(e.data["text"] for e in events if e.name == "chunk")


def test_a_stream_made_on_host_a_is_followed_and_resumed_on_host_b(hosts, fake_provider):
    company = make_company()
    member = make_member(company=company, role="viewer")
    token = Token.objects.create(user=member.user).key
    make_journey(domains=2, steps=3)
    fake_provider.pace(0.1)  # a model writing slowly: the clients join mid-stream
    a, b = hosts.hosts["a"], hosts.hosts["b"]

    # Host a's web worker owns the generation: the read waits for it there.
    reader = threading.Thread(
        target=httpx.get,
        args=(f"{a.url}/api/companies/{company.pk}/health/",),
        kwargs={"headers": {"Authorization": f"Token {token}"}, "timeout": 60},
        daemon=True,
    )
    reader.start()
    generation = wait_until(
        lambda: Generation.objects.filter(
            company=company, kind="health_summary", status=GenerationStatus.STREAMING
        ).first(),
        timeout=30,
        message=f"no streaming generation on host a\n{hosts.logs()}",
    )
    path = f"/api/generations/{generation.pk}/events"

    followed: dict[str, list] = {}
    arrivals: list[float] = []

    def on_b() -> None:
        followed["b"] = follow(f"{b.url}{path}", token=token, timeout=60)

    def through_nginx() -> None:
        followed["nginx"] = follow(
            f"{hosts.url}{path}",
            token=token,
            timeout=60,
            on_event=lambda e: arrivals.append(time.monotonic()),
        )

    clients = [threading.Thread(target=f, daemon=True) for f in (on_b, through_nginx)]
    for client in clients:
        client.start()
    # A third client starts on host a, goes away after 3 chunks, comes back on host b.
    first = follow(f"{a.url}{path}", token=token, stop_after=3, timeout=60)
    last_id = max(e.id for e in first if e.name == "chunk")
    rest = follow(f"{b.url}{path}", token=token, last_event_id=last_id, timeout=60)
    for client in clients:
        client.join(60)
    reader.join(60)

    generation.refresh_from_db()
    context = f"{generation.status} {generation.text!r}\n{hosts.logs()}"
    chunks = [e for e in followed["nginx"] if e.name == "chunk"]
    print(
        f"\nstream made on host a: {len(chunks)} chunks (one NOTIFY each) of "
        f"{len(generation.text)} characters over {arrivals[-1] - arrivals[0]:.1f}s"
    )
    assert generation.status == GenerationStatus.COMPLETED, context
    assert fake_provider.calls == 1, context
    for name in ("b", "nginx"):
        events = followed[name]
        assert events[-1].name == "done", (name, context)
        assert chunk_text(events) == generation.text, (name, context)
    # Resumed on another host: every chunk exactly once, in order, nothing missing.
    resumed = [e for e in first if e.name == "chunk"] + [e for e in rest if e.name == "chunk"]
    seqs = [e.id for e in resumed]
    assert seqs == sorted(set(seqs)), seqs
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert chunk_text(resumed) == generation.text, context
    assert rest[-1].name == "done", context
    # nginx passes each event on as it comes (no buffering): the chunks arrive spread
    # over the stream's life, not all at its end.
    assert arrivals[-1] - arrivals[0] > 1.0, arrivals
