"""The one context-hash function. Its output must never change for the same
inputs: stored content is found by it, across processes and releases."""

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical_json)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot hash a {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data gives equal text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def schema_hash(schema: type[BaseModel] | None) -> str:
    return sha256_of(schema.model_json_schema()) if schema is not None else ""


# The provider whose content's keys carry no provider name.
DEFAULT_PROVIDER = "openai"


def context_hash(
    *,
    inputs: Mapping[str, Any],
    prompt_key: str,
    prompt_version: int,
    template_hash: str,
    model: str,
    temperature: float | None,
    schema: type[BaseModel] | None,
    provider: str = DEFAULT_PROVIDER,
) -> str:
    parts = {
        "inputs": inputs,
        "prompt": {"key": prompt_key, "version": prompt_version, "template": template_hash},
        "model": model,
        "temperature": None if temperature is None else repr(float(temperature)),
        "schema": schema_hash(schema),
    }
    # Content made by another provider (the offline one) is other content: a real key
    # replaces it on the next read. The default provider adds nothing, so the keys of
    # content stored before the provider was part of the key stay what they were.
    if provider != DEFAULT_PROVIDER:
        parts["provider"] = provider
    return sha256_of(parts)
