"""A fake OpenAI-compatible server: real HTTP on 127.0.0.1, the Responses API.

It speaks POST /v1/responses well enough for the official `openai` SDK:
plain text, structured output (`text.format.type == "json_schema"`, answered
with JSON generated deterministically from the schema) and streaming (the real
server-sent event sequence, so `client.responses.stream(...)` and
`get_final_response()` work).

Trouble is scripted: each request to /v1/responses takes the next entry of a
FIFO script (a fault or a canned reply); an empty script means a normal
success. Requests are served on threads, so several processes can use one
server at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from generation.providers.offline import _Filler, _topic

# Deltas of a streamed reply are this many characters long.
STREAM_PIECE = 12


@dataclass
class Step:
    """One scripted answer. kind: "error", "delay", "malformed", "reply" or "cut"."""

    kind: str
    status: int = 200
    retry_after: float | None = None
    seconds: float = 0.0
    text: str = ""
    # For "cut": text deltas sent before the connection is dropped.
    after: int = 0
    # None: every request until reset(); otherwise how many requests it answers.
    times: int | None = 1


ERROR_TYPES = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("invalid_request_error", "Incorrect API key provided."),
    403: ("invalid_request_error", "You are not allowed to use this model."),
    404: ("invalid_request_error", "The model does not exist."),
    408: ("server_error", "Request timed out."),
    409: ("server_error", "Conflict, please retry."),
    422: ("invalid_request_error", "Unprocessable request."),
    429: ("rate_limit_error", "Rate limit reached, please retry later."),
    500: ("server_error", "The server had an error while processing your request."),
    502: ("server_error", "Bad gateway."),
    503: ("server_error", "The engine is currently overloaded."),
}


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _input_text(body: dict) -> str:
    value = body.get("input", "")
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


class FakeOpenAI:
    """The server and its script. See tests/fake_openai/plugin.py for the fixture API."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._script: deque[Step] = deque()
        self._calls = 0
        self.requests: list[dict] = []
        self.delta_pause = 0.0
        # Input tokens each reply reports as cached (input_tokens_details.cached_tokens).
        self.cached_tokens = 0
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # --- the script --------------------------------------------------------------------

    def _push(self, step: Step) -> FakeOpenAI:
        if step.times is not None and step.times < 1:
            raise ValueError("times must be at least 1, or None for every request")
        with self._lock:
            self._script.append(step)
        return self

    def fail(
        self, status: int, *, retry_after: float | None = None, times: int | None = 1
    ) -> FakeOpenAI:
        """Answer with an HTTP error (and a Retry-After header when given, in seconds)."""
        return self._push(Step("error", status=status, retry_after=retry_after, times=times))

    def delay(self, seconds: float, *, times: int | None = 1) -> FakeOpenAI:
        """Sleep before answering normally: past the client timeout, the client gives up."""
        return self._push(Step("delay", seconds=seconds, times=times))

    def pace(self, seconds: float) -> FakeOpenAI:
        """Pause this long between the text deltas of every streamed reply (a model
        writing at a person's reading speed); 0 sends them at once."""
        self.delta_pause = seconds
        return self

    def malformed(self, *, times: int | None = 1) -> FakeOpenAI:
        """HTTP 200 with a body that is not valid JSON (or a broken event stream)."""
        return self._push(Step("malformed", times=times))

    def reply(self, text: str, *, times: int | None = 1) -> FakeOpenAI:
        """Answer successfully with this output text, whatever the requested schema."""
        return self._push(Step("reply", text=text, times=times))

    def cut(self, *, after: int = 2, times: int | None = 1) -> FakeOpenAI:
        """A stream that drops the connection after `after` text deltas, before completing."""
        return self._push(Step("cut", after=after, times=times))

    def _next_step(self, body: dict) -> Step | None:
        with self._lock:
            self._calls += 1
            self.requests.append(body)
            if not self._script:
                return None
            step = self._script[0]
            if step.times is not None:
                step.times -= 1
                if step.times == 0:
                    self._script.popleft()
            return step

    @property
    def calls(self) -> int:
        """POST /v1/responses requests received, faulted ones included."""
        with self._lock:
            return self._calls

    @property
    def pending(self) -> int:
        """Scripted steps not consumed yet."""
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._calls = 0
            self.requests = []

    def stop(self) -> None:
        """Stop serving and free the port; requests still sleeping are abandoned."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- answers -----------------------------------------------------------------------

    def output_text(self, body: dict) -> str:
        """The deterministic answer to a request: schema-valid JSON when one is asked for."""
        seed = hashlib.sha256(
            json.dumps(
                [body.get("model"), body.get("instructions"), body.get("input")],
                sort_keys=True,
                default=str,
            ).encode()
        ).digest()
        fmt = (body.get("text") or {}).get("format") or {}
        if fmt.get("type") == "json_schema":
            schema = fmt.get("schema") or {}
            data = _Filler(schema, seed, _topic(_input_text(body)[:70])).fill(schema)
            return json.dumps(data)
        words = ("plan", "measure", "share", "review", "improve", "document")
        picks = [words[b % len(words)] for b in seed[:4]]
        return (
            f"Fake answer about {_topic(_input_text(body)[:70])}: "
            f"{picks[0]} the work, {picks[1]} the results, {picks[2]} what you learn, "
            f"then {picks[3]} it again."
        )


def response_object(
    body: dict,
    *,
    text: str,
    status: str = "completed",
    response_id: str,
    message_id: str,
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """A Response as the Responses API returns it; `cached_tokens` of its input tokens
    (at most all of them) reported as served from the prompt cache."""
    done = status == "completed"
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }
    tokens_in = _tokens(str(body.get("instructions") or "") + _input_text(body))
    tokens_out = _tokens(text)
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": body.get("model") or "gpt-4o-mini",
        "output": [message] if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": True,
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": tokens_in,
            "input_tokens_details": {"cached_tokens": min(cached_tokens, tokens_in)},
            "output_tokens": tokens_out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": tokens_in + tokens_out,
        }
        if done
        else None,
        "user": None,
        "metadata": {},
    }


def stream_events(body: dict, text: str, cached_tokens: int = 0) -> list[dict[str, Any]]:
    """The event sequence of a streamed reply, each with its sequence_number."""
    response_id = f"resp_{uuid.uuid4().hex}"
    message_id = f"msg_{uuid.uuid4().hex}"
    started = response_object(
        body, text="", status="in_progress", response_id=response_id, message_id=message_id
    )
    final = response_object(
        body,
        text=text,
        response_id=response_id,
        message_id=message_id,
        cached_tokens=cached_tokens,
    )
    where = {"item_id": message_id, "output_index": 0, "content_index": 0}
    item = {"id": message_id, "type": "message", "role": "assistant"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            **where,
            "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
        },
    ]
    for start in range(0, len(text), STREAM_PIECE):
        events.append(
            {
                "type": "response.output_text.delta",
                **where,
                "delta": text[start : start + STREAM_PIECE],
                "logprobs": [],
            }
        )
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {
            "type": "response.content_part.done",
            **where,
            "part": {"type": "output_text", "text": text, "annotations": [], "logprobs": []},
        },
        {"type": "response.output_item.done", "output_index": 0, "item": final["output"][0]},
        {"type": "response.completed", "response": final},
    ]
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet

    @property
    def fake(self) -> FakeOpenAI:
        return self.server.fake  # type: ignore[attr-defined]

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._send_bytes(status, data, "application/json", headers)

    def _send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:12]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, retry_after: float | None = None) -> None:
        kind, message = ERROR_TYPES.get(status, ("server_error", f"HTTP {status}"))
        if status == 401:
            # Like the real API: the key, masked, is quoted back in the message.
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key[:3]}{'*' * 8}{key[-4:]}."
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        self._send_json(
            status,
            {"error": {"message": message, "type": kind, "param": None, "code": None}},
            headers,
        )

    def do_GET(self) -> None:
        self._error(404)

    def do_POST(self) -> None:
        # The client may have given up (a timeout test): nothing left to answer.
        with contextlib.suppress(OSError):
            self._post()

    def _post(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/responses":
            self._error(404)
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._error(400)
            return
        step = self.fake._next_step(body)
        text = None
        if step is not None:
            if step.kind == "error":
                self._error(step.status, step.retry_after)
                return
            if step.kind == "delay":
                time.sleep(step.seconds)
            elif step.kind == "malformed":
                if body.get("stream"):
                    self._send_bytes(
                        200,
                        b'event: response.created\ndata: {"type": "resp\n\n',
                        "text/event-stream",
                    )
                else:
                    self._send_bytes(200, b'{"id": "resp_1", "output": [', "application/json")
                return
            elif step.kind == "reply":
                text = step.text
            elif step.kind == "cut":
                self._stream(body, self.fake.output_text(body), cut_after=step.after)
                return
        if text is None:
            text = self.fake.output_text(body)
        if body.get("stream"):
            self._stream(body, text)
        else:
            self._send_json(
                200,
                response_object(
                    body,
                    text=text,
                    response_id=f"resp_{uuid.uuid4().hex}",
                    message_id=f"msg_{uuid.uuid4().hex}",
                    cached_tokens=self.fake.cached_tokens,
                ),
            )

    def _stream(self, body: dict, text: str, cut_after: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        # No Content-Length: the stream ends when the connection closes.
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        deltas = 0
        for event in stream_events(body, text, self.fake.cached_tokens):
            if event["type"] == "response.output_text.delta":
                if cut_after is not None and deltas >= cut_after:
                    return  # the connection closes: no response.completed
                deltas += 1
                if self.fake.delta_pause:
                    time.sleep(self.fake.delta_pause)
            payload = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
            self.wfile.write(payload.encode())
            self.wfile.flush()
