"""Listed deliverables as the API shows them, each display rendered once.

A display never changes once written: every write of one sets a new
transformation_timestamp, and clearing it sets None. So a display's serialized
fields (above all display_html: markdown rendered, then cleaned by nh3) stay right
for as long as (deliverable, source hash, prompt version, timestamp) do. They are
kept in Django's cache under that key with no timeout and never invalidated: a new
display makes a new key. The fields that change without a new display (title,
status, content_transformation_status, updated_at) are read from the row every time.
"""

from typing import Any

from django.core.cache import cache

from deliverables.models import Deliverable
from deliverables.serializers import DeliverableDisplaySerializer, DeliverableRowSerializer

# Raise when the display fields or the way they are rendered change: the entries
# written before are then never read again.
SERIALIZER_VERSION = 1


def display_key(deliverable: Deliverable) -> str | None:
    """The cache key of a deliverable's display fields; None without a written
    display (nothing to render, nothing worth caching)."""
    if deliverable.transformation_timestamp is None:
        return None
    return ":".join(
        (
            f"deliverable-display-v{SERIALIZER_VERSION}",
            str(deliverable.pk),
            deliverable.display_source_hash,
            str(deliverable.display_prompt_id),
            deliverable.transformation_timestamp.isoformat(),
        )
    )


def listed(deliverables: list[Deliverable]) -> list[dict[str, Any]]:
    """Each deliverable as DeliverableListSerializer shows it. The display fields come
    from the cache in one round trip; those not cached yet are rendered and stored in
    another."""
    keys = {d.pk: key for d in deliverables if (key := display_key(d)) is not None}
    cached = cache.get_many(keys.values()) if keys else {}
    displays = {pk: cached[key] for pk, key in keys.items() if key in cached}
    missing = [d for d in deliverables if d.pk not in displays]
    if missing:
        rendered = DeliverableDisplaySerializer(missing, many=True).data
        for deliverable, fields in zip(missing, rendered, strict=True):
            displays[deliverable.pk] = dict(fields)
        new = {keys[d.pk]: displays[d.pk] for d in missing if d.pk in keys}
        if new:
            cache.set_many(new, timeout=None)
    rows = DeliverableRowSerializer(deliverables, many=True).data
    return [{**row, **displays[d.pk]} for d, row in zip(deliverables, rows, strict=True)]
