"""What the workspace page shows for each deliverable (its card): for the page itself
and for the card fragments its script fetches when a display lands."""

from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString

from core.api import BIGINT_MAX
from deliverables.models import Deliverable, DeliverableStatus, TransformationStatus, Workspace
from deliverables.readable import readable_source
from deliverables.services import is_current
from deliverables.sources import source_contents

# The page shows this many deliverables (the API pages through more); a script asks
# for at most as many cards or events at once.
PAGE_LIMIT = 200


@dataclass(frozen=True)
class CardView:
    """What a card shows: the display, the source (readable, marked as the source) or
    nothing yet; a badge state; a sentence saying what it is; and whether the card is
    waiting for its display (the page follows it live)."""

    show: str  # "display", "source" or "none"
    state: str = ""  # "current", "generating", "fallback" or "" (no badge)
    words: str = ""
    source: SafeString | None = None
    waiting: bool = False


@dataclass(frozen=True)
class Card:
    deliverable: Deliverable
    view: CardView


def cards_for(
    *, workspace: Workspace, deliverables: list[Deliverable], active_prompt_id: int | None
) -> list[Card]:
    """A card per deliverable; one more query for the source content of those that
    show it (the listing leaves the content out)."""
    current = {d.pk for d in deliverables if is_current(d, active_prompt_id=active_prompt_id)}
    showing_source = [
        d.pk
        for d in deliverables
        if d.status == DeliverableStatus.COMPLETED and d.pk not in current
    ]
    sources = source_contents(workspace=workspace, ids=showing_source)
    return [
        Card(d, view_of(d, current=d.pk in current, content=sources.get(d.pk)))
        for d in deliverables
    ]


def view_of(deliverable: Deliverable, *, current: bool, content: Any) -> CardView:
    """What the page shows for one deliverable, and a sentence saying what it is."""
    if current:
        return CardView(show="display", state="current", words="Current display version.")
    if deliverable.status != DeliverableStatus.COMPLETED:
        return CardView(show="none")
    if deliverable.content_transformation_status == TransformationStatus.PENDING:
        return CardView(
            show="source",
            source=readable_source(content),
            state="generating",
            words="The display version is being prepared; this is the source content. "
            "It fills in by itself when the display is ready.",
            waiting=True,
        )
    if deliverable.display_content:
        return CardView(
            show="display",
            state="fallback",
            words="An earlier display version, made before the content last changed.",
        )
    return CardView(
        show="source",
        source=readable_source(content),
        state="fallback",
        words="The display version could not be made right now; this is the source content.",
    )


def requested_ids(raw: str) -> list[int]:
    """The ids of `?ids=1,2,3`: ids a row can have, each once, at most PAGE_LIMIT; the
    rest is ignored."""
    ids: dict[int, None] = {}
    for part in raw.split(",")[: PAGE_LIMIT * 2]:
        part = part.strip()
        if part.isascii() and part.isdigit() and 0 < int(part) <= BIGINT_MAX:
            ids[int(part)] = None
    return list(ids)[:PAGE_LIMIT]
