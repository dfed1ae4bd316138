"""The structured output of the display transformation."""

import html
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from generation.hashing import sha256_of

SCHEMA_NAME = "deliverable_display"


class DeliverableDisplay(BaseModel):
    display_content: str = Field(
        description="The deliverable rewritten for reading: HTML fragment or markdown."
    )
    display_format: Literal["html", "markdown"] = Field(
        description="The format of display_content; prefer html."
    )
    display_quality_score: float = Field(
        description="How readable and complete the display is, from 0 to 1."
    )
    ai_confidence: float = Field(
        description="Confidence that the display is faithful to the raw content, from 0 to 1."
    )

    @classmethod
    def offline_example(cls, inputs: dict[str, Any]) -> dict[str, Any]:
        """Deterministic display for the offline provider: the raw content as HTML."""
        title = str(inputs.get("title", ""))
        try:
            content = json.loads(inputs.get("content_json") or "{}")
        except ValueError:
            content = {}
        parts = [f"<h2>{html.escape(title)}</h2>"]
        items = content.items() if isinstance(content, dict) else [("content", content)]
        for key, value in items:
            parts.append(f"<h3>{html.escape(str(key).replace('_', ' ').capitalize())}</h3>")
            parts.append(_html_of(value))
        digest = int(sha256_of(inputs)[:8], 16)
        return {
            "display_content": "\n".join(parts),
            "display_format": "html",
            "display_quality_score": round(0.7 + (digest % 300) / 1000, 3),
            "ai_confidence": round(0.8 + (digest // 300 % 200) / 1000, 3),
        }


def _html_of(value: Any) -> str:
    if isinstance(value, dict):
        rows = "".join(
            f"<dt>{html.escape(str(k))}</dt><dd>{_html_of(v)}</dd>" for k, v in value.items()
        )
        return f"<dl>{rows}</dl>"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_html_of(v)}</li>" for v in value) + "</ul>"
    return f"<p>{html.escape(str(value))}</p>"
