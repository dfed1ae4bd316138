"""A small Server-Sent Events reader for tests and benchmarks (httpx streaming)."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx


@dataclass
class Event:
    name: str
    data: dict
    id: int | None = None


def parse(lines: Iterator[str]) -> Iterator[Event]:
    """Events from text/event-stream lines; comments and retry lines are skipped."""
    name, data, event_id = "message", [], None
    for line in lines:
        if line == "":
            if data:
                yield Event(name, json.loads("\n".join(data)), event_id)
            name, data, event_id = "message", [], None
        elif line.startswith(":") or line.startswith("retry:"):
            continue
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line.startswith("id: "):
            event_id = int(line[4:])


def follow(
    url: str,
    *,
    token: str,
    last_event_id: int | None = None,
    stop_after: int | None = None,
    timeout: float = 30,
    on_event: Callable[[Event], None] | None = None,
) -> list[Event]:
    """Read events until the stream ends, or until `stop_after` chunk events (then
    disconnect, as a client that goes away mid-stream)."""
    headers = {"Authorization": f"Token {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events: list[Event] = []
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = 0
        for event in parse(response.iter_lines()):
            events.append(event)
            if on_event is not None:
                on_event(event)
            if event.name == "chunk":
                chunks += 1
                if stop_after is not None and chunks >= stop_after:
                    break
    return events
