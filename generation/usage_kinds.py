"""How each kind of artefact is named and coloured in the usage charts.

The apps that own the kinds register them from their AppConfig.ready(), as they do
their schemas and usage sections: generation counts kinds without knowing them. A
kind keeps its colour whatever the data of a period, so a reader who learnt that
orange is deliverable displays can trust it on every chart and every day.
"""

import zlib
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

# A kind nobody registered (a test's, a retired one) still gets a colour of its own
# that depends on its name only; these are kept apart from the registered colours.
UNREGISTERED_COLORS = ("#6b6f2a", "#7d4e9e", "#5d6b62", "#9c4a55", "#3b7f86")


@dataclass(frozen=True)
class KindStyle:
    kind: str
    label: str
    color: str
    # Registered kinds come first, in registration order: the stacking order of bars.
    order: int


_styles: dict[str, KindStyle] = {}


def register_kind(kind: str, *, label: str, color: str) -> None:
    existing = _styles.get(kind)
    if existing is not None:
        if (existing.label, existing.color) != (label, color):
            raise ImproperlyConfigured(f"usage kind {kind!r} is already registered")
        return
    taken = {s.color.lower(): s.kind for s in _styles.values()}
    if color.lower() in taken or color.lower() in UNREGISTERED_COLORS:
        raise ImproperlyConfigured(
            f"usage kind {kind!r}: colour {color} is already used by {taken.get(color.lower())}"
        )
    _styles[kind] = KindStyle(kind=kind, label=label, color=color, order=len(_styles))


def style_for(kind: str) -> KindStyle:
    style = _styles.get(kind)
    if style is not None:
        return style
    color = UNREGISTERED_COLORS[zlib.crc32(kind.encode()) % len(UNREGISTERED_COLORS)]
    label = kind.replace("_", " ").replace("-", " ").capitalize()
    return KindStyle(kind=kind, label=label, color=color, order=len(_styles))


def styles_for(kinds) -> list[KindStyle]:
    """The styles of these kinds in their fixed order (registered first, then by name)."""
    return sorted((style_for(k) for k in set(kinds)), key=lambda s: (s.order, s.kind))
