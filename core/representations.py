"""Serializers whose representation is cached for good, with the per-read fields fresh.

Generated content never changes once stored: a row's representation is the same on
every read, so rendering it again (DRF's fields one by one, markdown, cleaning) is
work thrown away. A serializer built on `CachedRepresentationSerializer` names a
`cache_key(instance)` that changes whenever the cached part could (the row, the
artefact it was made from, an edit's revision, `cache_version` for the serializer's
own shape) and the `per_read_fields` that may change without that key changing
(status, presentation counts, feedback): those are rendered from the instance on
every read and laid over the cached part. A list is looked up in one `get_many` and
its misses stored in one `set_many`: one cache round trip either way.

Nothing is ever invalidated: an entry is only ever replaced by one under another
key. Entries have no timeout; the cache's own eviction (locmem's size cap, Redis'
maxmemory policy) bounds them.
"""

from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db.models import Manager
from rest_framework import serializers


class CachedRepresentationListSerializer(serializers.ListSerializer):
    def to_representation(self, data: Iterable[Any]) -> list[dict[str, Any]]:
        rows = list(data.all() if isinstance(data, Manager) else data)
        child = self.child
        keys = [child.cache_key(row) for row in rows]
        wanted = [key for key in keys if key is not None]
        cached = cache.get_many(wanted) if wanted else {}
        made: dict[str, dict[str, Any]] = {}
        out = []
        for row, key in zip(rows, keys, strict=True):
            fixed = (cached.get(key) or made.get(key)) if key is not None else None
            if fixed is None:
                fixed = child.fixed_representation(row)
                if key is not None:
                    made[key] = fixed
            out.append(child.with_per_read_fields(fixed, row))
        if made:
            cache.set_many(made, timeout=None)
        return out


class CachedRepresentationSerializer(serializers.Serializer):
    """Base of a (Model)Serializer whose instances never change but for
    `per_read_fields`. Its Meta sets `list_serializer_class =
    CachedRepresentationListSerializer` so a list costs one cache round trip."""

    per_read_fields: tuple[str, ...] = ()
    # Raise when the serializer's fields or their rendering change: old entries are
    # then simply never asked for again.
    cache_version = 1

    def cache_key(self, instance: Any) -> str | None:
        """The key of the instance's cached part; None: not worth caching (rendered
        on each read)."""
        raise NotImplementedError

    def fixed_representation(self, instance: Any) -> dict[str, Any]:
        """The representation without the per-read fields (what is cached)."""
        data = super().to_representation(instance)
        for name in self.per_read_fields:
            data.pop(name, None)
        return dict(data)

    def with_per_read_fields(self, fixed: dict[str, Any], instance: Any) -> dict[str, Any]:
        """The cached part with the per-read fields rendered now, in the declared order."""
        fields = self.fields
        fresh = {}
        for name in self.per_read_fields:
            field = fields[name]
            value = field.get_attribute(instance)
            fresh[name] = None if value is None else field.to_representation(value)
        return {name: fresh[name] if name in fresh else fixed[name] for name in fields}

    def to_representation(self, instance: Any) -> dict[str, Any]:
        key = self.cache_key(instance)
        fixed = cache.get(key) if key is not None else None
        if fixed is None:
            fixed = self.fixed_representation(instance)
            if key is not None:
                cache.set(key, fixed, timeout=None)
        return self.with_per_read_fields(fixed, instance)
