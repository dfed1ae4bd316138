"""Structured output shown as text while it is still being written.

A structured generation streams JSON. A person should read its fields as they arrive
(the title, then the summary, then each bullet), never the braces and quotes. The
text so far is completed into valid JSON (open strings and brackets closed, a
dangling key dropped) and laid out in the schema's order: strings as paragraphs,
lists as bullets, nested objects one after the other. static/evergreen/pages.js
does the same in the browser for the chunks that arrive later; the server renders
the text so far, so a page opened mid-stream shows it at once.
"""

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Block:
    """One piece of readable text: a label (a field's name, humanized) and either a
    paragraph or bullet items."""

    label: str
    text: str = ""
    items: tuple[str, ...] = ()


def complete_json(text: str) -> Any | None:
    """The value the JSON text so far would be if it ended here (None: nothing yet)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    candidate = text
    if in_string:
        candidate = candidate[:-1] if escaped else candidate
        candidate += '"'
    for _ in range(4):  # a dangling comma, colon or key is dropped, then closed again
        try:
            return json.loads(candidate + "".join(reversed(stack)))
        except json.JSONDecodeError:
            candidate = _drop_dangling(candidate)
            if not candidate:
                return None
    return None


def _drop_dangling(text: str) -> str:
    text = text.rstrip()
    if text.endswith((",", ":")):
        return text[:-1]
    if text.endswith('"'):
        # A key without its value ({"title": "A", "summ"): drop back to the comma.
        cut = max(text.rfind(","), text.rfind("{"))
        return text[: cut + 1] if text[cut] == "{" else text[:cut]
    cut = max(text.rfind(","), text.rfind(":"))
    return text[:cut] if cut > 0 else ""


def blocks(value: Any, label: str = "") -> list[Block]:
    """Readable blocks of a (partial) structured value, in its own key order."""
    if isinstance(value, dict):
        out: list[Block] = []
        for key, item in value.items():
            out += blocks(item, _humanize(key))
        return out
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return [Block(label, items=tuple(_scalar(item) for item in value))]
        out = []
        for item in value:
            out += blocks(item, label)
        return out
    if value is None:
        return []
    return [Block(label, text=_scalar(value))]


def readable(text: str) -> list[Block]:
    """The readable blocks of streamed text: structured output laid out, plain text as
    one paragraph."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return [Block("", text=text)] if text else []
    value = complete_json(stripped)
    return blocks(value) if value is not None else []


def _humanize(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
