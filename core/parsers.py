"""JSON request bodies that the database and the hashing can always take.

PostgreSQL refuses a NUL character in text and JSONB, a lone UTF-16 surrogate
cannot be encoded to UTF-8 (hashing, storing), and deeply nested JSON exhausts
the recursion limit of every walker after the parser. Each of these is the
client's mistake: a 400 with the JSON error shape, before any view code runs.
"""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Deeper than any document this API takes; far below Python's recursion limit.
MAX_DEPTH = 64


def check_json_value(value: Any) -> None:
    """Raise ParseError for a NUL, a lone surrogate or nesting deeper than MAX_DEPTH.

    Iterative, so a deep document cannot exhaust the stack here either."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ParseError("Text may not contain the NUL character (\\u0000).")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParseError("Text contains a lone surrogate (e.g. \\ud800).") from exc


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from exc
        check_json_value(data)
        return data
