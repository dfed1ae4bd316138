"""Deliverables: raw content in, a display version made once, kept, and served many times.

edits: create and edit deliverables, clear displays. displays: make and write a
display. queue: claim and queue transforms, release claims. listing: the cache-first
listing.
"""

from deliverables.selectors import KIND, PROMPT_KEY
from deliverables.services.displays import (
    TransformOutcome,
    display_inputs,
    is_current,
    transform_deliverable,
)
from deliverables.services.edits import clear_display, create_deliverable, update_deliverable
from deliverables.services.listing import CacheStats, Listing, serve_deliverables
from deliverables.services.queue import TASK, queue_transforms

__all__ = [
    "KIND",
    "PROMPT_KEY",
    "TASK",
    "CacheStats",
    "Listing",
    "TransformOutcome",
    "clear_display",
    "create_deliverable",
    "display_inputs",
    "is_current",
    "queue_transforms",
    "serve_deliverables",
    "transform_deliverable",
    "update_deliverable",
]
