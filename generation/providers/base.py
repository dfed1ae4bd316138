"""The provider interface: generate text, generate a structured object, stream text.

Providers make exactly one request per call and raise ProviderError on
failure; retrying is the retry policy's job (generation/retry.py), never the
provider's or the SDK's.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel


@dataclass(frozen=True)
class ProviderRequest:
    instructions: str
    input: str
    model: str
    temperature: float | None = None
    timeout: float = 30.0
    # The raw inputs, so the offline provider can derive deterministic content.
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ProviderResult:
    text: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    # Of tokens_in, those served from the provider's prompt cache (priced lower).
    tokens_cached: int = 0
    # The validated object as JSON-ready data, for structured calls.
    parsed: dict | None = None


class Provider(Protocol):
    name: str

    def generate_text(self, request: ProviderRequest) -> ProviderResult: ...

    def generate_structured(
        self, request: ProviderRequest, schema: type[BaseModel]
    ) -> ProviderResult: ...

    def stream_text(
        self, request: ProviderRequest, schema: type[BaseModel] | None = None
    ) -> Iterator[str | ProviderResult]:
        """Yields text deltas, then one final ProviderResult with the usage.

        With a schema the streamed text is that schema's JSON; the caller validates it.
        """
        ...
