"""A deliverable's raw content (JSON) as readable HTML, for the page to show while its
display is not ready: keys become labels and headings, lists become bullets, text
becomes paragraphs. Every piece of the content is escaped: it is shown, never run.
"""

import re
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# h3 for the top level's keys, one level further down each nesting, h6 at the deepest.
TOP_HEADING = 3


def readable_source(content: Any) -> SafeString:
    """The content as headings, paragraphs, labelled values and bullet lists."""
    return _block(content, depth=0)


def label(key: str) -> str:
    """`market_size_eur` / `buyingTrigger` / `ROI` -> "Market size eur" / "Buying
    trigger" / "ROI"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").replace("-", " ")
    words = [w if w.isupper() else w.lower() for w in spaced.split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else key


def _block(value: Any, *, depth: int) -> SafeString:
    if isinstance(value, dict):
        return _mapping(value, depth=depth)
    if isinstance(value, list):
        return _bullets(value, depth=depth)
    if isinstance(value, str):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", value) if p.strip()]
        return format_html_join("", "<p>{}</p>", ((p,) for p in paragraphs))
    return format_html("<p>{}</p>", _scalar(value))


def _mapping(mapping: dict, *, depth: int) -> SafeString:
    """At the top, every key is a heading over its value; further down a plain value
    is a labelled line and a nested one gets a smaller heading."""
    level = min(TOP_HEADING + depth, 6)
    parts = []
    for key, value in mapping.items():
        if depth > 0 and _is_plain(value):
            parts.append(
                format_html('<p><span class="label">{}:</span> {}</p>', label(key), _scalar(value))
            )
        else:
            heading = format_html("<h{}>{}</h{}>", level, label(key), level)
            parts.append(heading + _block(value, depth=depth + 1))
    return mark_safe("".join(parts))


def _bullets(items: list, *, depth: int) -> SafeString:
    if not items:
        return SafeString()
    return format_html("<ul>{}</ul>", mark_safe("".join(_item(i, depth=depth) for i in items)))


def _item(value: Any, *, depth: int) -> SafeString:
    if _is_plain(value):
        return format_html("<li>{}</li>", _scalar(value))
    if isinstance(value, dict) and all(_is_plain(v) for v in value.values()):
        # A record (a competitor, a plan): one line of labelled values.
        pairs = format_html_join(
            " · ",
            '<span class="label">{}:</span> {}',
            ((label(k), _scalar(v)) for k, v in value.items()),
        )
        return format_html("<li>{}</li>", pairs)
    return format_html("<li>{}</li>", _block(value, depth=depth + 1))


def _is_plain(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _scalar(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and abs(value) >= 10_000:  # not years
        return f"{value:,}"
    return str(value)
