"""LLM output is untrusted: markdown is rendered, then cleaned; HTML is cleaned
before it is stored and again when it is shown."""

import threading
from functools import lru_cache

import markdown as md
import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul", "span", "div", "dl", "dt", "dd",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"colspan"}}


def clean_html(html: str) -> str:
    return nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


# One Markdown converter per thread, reset between uses: md.markdown() builds a new
# one (and loads its extensions) on every call, which cost more than the rendering.
_converters = threading.local()


def _converter() -> md.Markdown:
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        converter = _converters.markdown = md.Markdown(extensions=["tables", "fenced_code"])
    return converter


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """Untrusted markdown as cleaned HTML. Stored content is rendered on every read
    that shows it, and the same text always gives the same HTML: the last 4,096
    renderings are kept (per process), so a page of cached content renders none."""
    converter = _converter()
    try:
        return clean_html(converter.convert(text or ""))
    finally:
        converter.reset()
