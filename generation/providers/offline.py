"""Deterministic content derived from the inputs: the default without an API key.

The same inputs always give the same text, so the whole product (and its
generate-once behaviour) can be tried on a fresh machine. Everything it makes
is labelled "offline" in logs and pages.
"""

import hashlib
import time
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from generation.hashing import canonical_json
from generation.pricing import estimate_tokens
from generation.providers.base import ProviderRequest, ProviderResult

WORDS = (
    "align",
    "review",
    "measure",
    "clarify",
    "document",
    "prioritise",
    "share",
    "automate",
    "validate",
    "simplify",
    "plan",
    "track",
    "improve",
    "test",
    "publish",
    "onboard",
    "schedule",
    "standardise",
    "audit",
    "train",
)


def _topic(inputs: Any) -> str:
    """A short human phrase from the first string values of the inputs."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if len(found) >= 3:
            return
        if isinstance(value, str) and 2 < len(value) < 80:
            found.append(value)
        elif isinstance(value, dict):
            for key in sorted(value):
                walk(value[key])
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(inputs)
    return ", ".join(found) or "your current context"


class _Filler:
    """Fills a JSON schema with deterministic values chosen by a digest."""

    def __init__(self, root: dict, seed: bytes, topic: str) -> None:
        self.root = root
        self.seed = seed
        self.topic = topic
        self.counter = 0

    def _n(self) -> int:
        self.counter += 1
        digest = hashlib.sha256(self.seed + self.counter.to_bytes(4, "big")).digest()
        return int.from_bytes(digest[:4], "big")

    def _resolve(self, node: dict) -> dict:
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = self.root.get("$defs", {})[name]
        return node

    def fill(self, node: dict, name: str = "value") -> Any:
        node = self._resolve(node)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return node["enum"][self._n() % len(node["enum"])]
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                options = [o for o in node[key] if self._resolve(o).get("type") != "null"]
                return self.fill(options[0] if options else node[key][0], name)
        kind = node.get("type", "string")
        if kind == "object":
            props = node.get("properties", {})
            return {k: self.fill(v, k) for k, v in props.items()}
        if kind == "array":
            low = node.get("minItems", 1)
            high = node.get("maxItems", max(low, 3))
            count = low + self._n() % (high - low + 1)
            return [self.fill(node.get("items", {}), name) for _ in range(count)]
        if kind == "integer":
            low = node.get("minimum", node.get("exclusiveMinimum", -1) + 1)
            high = node.get("maximum", node.get("exclusiveMaximum", low + 101) - 1)
            return low + self._n() % (high - low + 1)
        if kind == "number":
            low = node.get("minimum", node.get("exclusiveMinimum", 0.0))
            high = node.get("maximum", node.get("exclusiveMaximum", 1.0))
            return round(low + (high - low) * (self._n() % 1000) / 1000, 3)
        if kind == "boolean":
            return bool(self._n() % 2)
        return self._string(node, name)

    def _string(self, node: dict, name: str) -> str:
        verb = WORDS[self._n() % len(WORDS)]
        label = name.replace("_", " ")
        text = f"{verb.capitalize()} {label} for {self.topic} (offline draft)."
        low, high = node.get("minLength", 0), node.get("maxLength", 10_000)
        text = text.ljust(low, ".")[:high]
        return text


class OfflineProvider:
    name = "offline"

    def __init__(self, delay: float = 0.0) -> None:
        # Per-delta delay for simulated streaming; 0 keeps tests fast.
        self.delay = delay

    def _seed(self, request: ProviderRequest) -> bytes:
        return hashlib.sha256(
            canonical_json([request.inputs, request.instructions, request.input]).encode()
        ).digest()

    def _text(self, request: ProviderRequest) -> str:
        topic = _topic(request.inputs)
        seed = self._seed(request)
        picks = [WORDS[b % len(WORDS)] for b in seed[:6]]
        return (
            f"## Offline draft\n\nThis text was produced by the offline provider for "
            f"**{topic}**. Next steps: {picks[0]} the plan, {picks[1]} the results, "
            f"{picks[2]} with the team.\n\n- {picks[3].capitalize()} one thing this week.\n"
            f"- {picks[4].capitalize()} progress.\n- {picks[5].capitalize()} what you learn.\n"
        )

    def _result(self, request: ProviderRequest, text: str, parsed=None) -> ProviderResult:
        return ProviderResult(
            text=text,
            model="offline",
            tokens_in=estimate_tokens(request.instructions + request.input),
            tokens_out=estimate_tokens(text),
            parsed=parsed,
        )

    def generate_text(self, request: ProviderRequest) -> ProviderResult:
        return self._result(request, self._text(request))

    def generate_structured(
        self, request: ProviderRequest, schema: type[BaseModel]
    ) -> ProviderResult:
        return self._structured(request, schema)

    def _structured(self, request: ProviderRequest, schema: type[BaseModel]) -> ProviderResult:
        # Shared by the structured and the streamed call, so each is one request.
        offline = getattr(schema, "offline_example", None)
        if callable(offline):
            data = offline(dict(request.inputs))
        else:
            json_schema = schema.model_json_schema()
            filler = _Filler(json_schema, self._seed(request), _topic(request.inputs))
            data = filler.fill(json_schema)
        parsed = schema.model_validate(data).model_dump(mode="json")
        return self._result(request, canonical_json(parsed), parsed)

    def stream_text(
        self, request: ProviderRequest, schema: type[BaseModel] | None = None
    ) -> Iterator[str | ProviderResult]:
        text = self._structured(request, schema).text if schema else self._text(request)
        for start in range(0, len(text), 24):
            if self.delay:
                time.sleep(self.delay)
            yield text[start : start + 24]
        yield self._result(request, text)
