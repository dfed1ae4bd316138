"""The OpenAI provider: the official SDK on the Responses API.

One HTTP request per call: the SDK's own retries are off (max_retries=0) and
generation/retry.py decides what to try again, so attempts never multiply.
Every SDK or transport failure leaves as a ProviderError saying whether it is
worth retrying. OPENAI_BASE_URL is honoured, so any OpenAI-compatible server
(vLLM, Ollama, the test suite's fake) works.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import openai
import pydantic
from pydantic import BaseModel

from generation.errors import InvalidOutput, ProviderError
from generation.providers.base import ProviderRequest, ProviderResult

logger = logging.getLogger(__name__)

# Status codes worth another try: the request itself was fine.
TRANSIENT_STATUS = {408, 409, 429}
# The server refused who we are: no retry helps, the settings must change.
CONFIGURATION_STATUS = {401, 403}
MAX_MESSAGE = 300
_SECRET = re.compile(r"sk-[A-Za-z0-9_\-*]+")
# The API quotes a rejected key back, masked but with its last characters.
_QUOTED_KEY = re.compile(r"(API key provided: )\S+")


def retry_after_seconds(headers: httpx.Headers | None) -> float | None:
    """Seconds to wait from retry-after-ms, or Retry-After in seconds or as an HTTP date."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _output_text(payload: Any) -> str:
    """The output text of a raw Response body, for logging a reply that failed its schema."""
    if not isinstance(payload, dict):
        return ""
    parts = []
    for item in payload.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "message":
            for content in item.get("content") or []:
                if isinstance(content, dict) and content.get("type") == "output_text":
                    parts.append(str(content.get("text", "")))
    return "".join(parts)


class OpenAIProvider:
    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout: float = 30.0) -> None:
        self._api_key = api_key
        # The SDK refuses to start without a key; a placeholder lets the request
        # fail as a logged, non-retried 401 instead of crashing the caller.
        self.client = openai.OpenAI(
            api_key=api_key or "missing",
            base_url=base_url or None,
            timeout=timeout,
            max_retries=0,
        )

    # --- calls --------------------------------------------------------------------------

    def _kwargs(self, request: ProviderRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "input": request.input,
            "timeout": request.timeout,
        }
        if request.instructions:
            kwargs["instructions"] = request.instructions
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        return kwargs

    def generate_text(self, request: ProviderRequest) -> ProviderResult:
        try:
            response = self.client.responses.create(**self._kwargs(request))
        except Exception as exc:
            raise self._error(exc) from exc
        return self._result(response, response.output_text)

    def generate_structured(
        self, request: ProviderRequest, schema: type[BaseModel]
    ) -> ProviderResult:
        # The raw response is kept so a reply that fails the schema can be logged as sent.
        try:
            raw = self.client.responses.with_raw_response.parse(
                **self._kwargs(request), text_format=schema
            )
        except Exception as exc:
            raise self._error(exc) from exc
        try:
            payload = raw.http_response.json()
        except ValueError as exc:
            raise self._error(exc) from exc
        text = _output_text(payload)
        try:
            response = raw.parse()
        except (pydantic.ValidationError, ValueError) as exc:
            raise InvalidOutput(
                self._short(f"reply does not match {schema.__name__}: {exc}"), raw_text=text
            ) from exc
        except Exception as exc:
            raise self._error(exc) from exc
        parsed = response.output_parsed
        if parsed is None:
            raise InvalidOutput(f"reply has no {schema.__name__} object", raw_text=text)
        return self._result(response, response.output_text, parsed.model_dump(mode="json"))

    def stream_text(
        self, request: ProviderRequest, schema: type[BaseModel] | None = None
    ) -> Iterator[str | ProviderResult]:
        kwargs = self._kwargs(request)
        if schema is not None:
            kwargs["text_format"] = schema
        streamed: list[str] = []
        try:
            with self.client.responses.stream(**kwargs) as stream:
                for event in stream:
                    if event.type == "response.output_text.delta":
                        streamed.append(event.delta)
                        yield event.delta
                final = stream.get_final_response()
        except pydantic.ValidationError as exc:
            # The SDK validates a streamed structured reply against text_format itself.
            raise InvalidOutput(
                f"streamed output does not match {schema.__name__ if schema else 'the schema'}",
                raw_text="".join(streamed),
            ) from exc
        except Exception as exc:
            raise self._error(exc) from exc
        yield self._result(final, final.output_text)

    # --- results and errors -------------------------------------------------------------

    def _result(self, response: Any, text: str, parsed: dict | None = None) -> ProviderResult:
        usage = response.usage
        details = usage.input_tokens_details if usage else None
        return ProviderResult(
            text=text or "",
            model=response.model or "",
            tokens_in=usage.input_tokens if usage else 0,
            tokens_out=usage.output_tokens if usage else 0,
            tokens_cached=(details.cached_tokens or 0) if details else 0,
            parsed=parsed,
        )

    def _short(self, message: str) -> str:
        """Short enough for a log row, and never carrying the API key."""
        if self._api_key:
            message = message.replace(self._api_key, "***")
        message = _SECRET.sub("sk-***", message)
        message = _QUOTED_KEY.sub(r"\1***", message)
        return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."

    def _error(self, exc: Exception) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        # The SDK does not wrap errors raised while a stream is read: check httpx too.
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return ProviderError(
                self._short(f"timed out: {exc}"), transient=True, outcome="timeout"
            )
        if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            return ProviderError(self._short(f"connection failed: {exc}"), transient=True)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            transient = status in TRANSIENT_STATUS or status >= 500
            message = self._short(f"HTTP {status}: {self._api_message(exc)}")
            if status in CONFIGURATION_STATUS:
                logger.error(
                    "configuration error: the model server at %s refused the request (%s); "
                    "check the OPENAI_API_KEY setting, and OPENAI_BASE_URL if it points "
                    "at another server",
                    self.client.base_url,
                    message,
                )
            return ProviderError(
                message,
                transient=transient,
                status_code=status,
                retry_after=retry_after_seconds(exc.response.headers) if transient else None,
            )
        if isinstance(exc, json.JSONDecodeError | openai.APIResponseValidationError):
            # A 200 whose body is not valid JSON is a broken reply from a proxy or
            # an overloaded server, not a fault in our request: worth another try.
            return ProviderError(self._short(f"malformed response: {exc}"), transient=True)
        if isinstance(exc, openai.APIError):
            # An error event in the middle of a stream: the server gave up on it.
            return ProviderError(self._short(f"stream error: {exc.message}"), transient=True)
        if isinstance(exc, RuntimeError):
            # The stream ended before response.completed (connection cut).
            return ProviderError(self._short(f"incomplete stream: {exc}"), transient=True)
        return ProviderError(
            self._short(f"unexpected {type(exc).__name__}: {exc}"), transient=False
        )

    @staticmethod
    def _api_message(exc: openai.APIStatusError) -> str:
        body = exc.body
        if isinstance(body, dict):
            error = body.get("error", body)
            if isinstance(error, dict) and error.get("message"):
                return str(error["message"])
            if body.get("message"):
                return str(body["message"])
        return exc.message
