"""Serving stored content: what a read returns, expiry, hits and fallbacks."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from companies.models import Company
from core.errors import DomainError
from generation.errors import ProviderUnavailable
from generation.flight import GenerationResult, Source, record_fallback, schedule_revalidation
from generation.hits import record_hit
from generation.models import Generation
from recommendations.lifecycle import LIVE, Status
from recommendations.models import GeneratedContent
from recommendations.services.presentation import present


@dataclass
class ContentPage:
    """What a read serves: its rows, and what this read says about each of them."""

    items: list = field(default_factory=list)
    context_hash: str = ""
    # A provider or budget failure that left some content missing (the page degrades).
    error: str = ""
    # The same failure as the error a read raises when it has nothing to serve.
    failure: DomainError | None = None
    # Rows this read showed for the first time.
    new: set[int] = field(default_factory=set)
    # Rows served because the current content could not be made.
    fallback: set[int] = field(default_factory=set)
    # Rows past their expiry, served as stale while their refresh runs.
    expired: set[int] = field(default_factory=set)
    # Content being written for this read (in the background, or by another reader).
    pending: list[Generation] = field(default_factory=list)

    def status_of(self, row: GeneratedContent) -> str:
        return Status.STALE if row.pk in self.expired else row.status

    def is_fallback(self, row: GeneratedContent) -> bool:
        """Served because the current content could not be made, or of another context."""
        if row.pk in self.fallback:
            return True
        return bool(self.context_hash) and row.context_hash != self.context_hash

    def serializer_context(self) -> dict[str, Any]:
        return {"page": self}


def scope_ids(scope: str, *names: str) -> list[int | None]:
    """The ids a generation's scope names ("company:3:step:7" -> company 3, step 7);
    None for a name it does not hold."""
    parts = scope.split(":")
    found = dict(zip(parts[::2], parts[1::2], strict=False))
    return [int(found[name]) if name in found else None for name in names]


def is_stored(result: GenerationResult) -> bool:
    """Whether the result is content of this very key (not another one's fallback)."""
    return result.source in (Source.GENERATED, Source.CACHE, Source.SHARED)


def failure_of(result: GenerationResult) -> DomainError:
    """The error of a result that is not this key's content (another key's fallback);
    the flight has already counted it as a fallback read."""
    failure = (result.failure or ProviderUnavailable)(result.error or None)
    failure.counted = True
    return failure


def count_fallback(kind: str, company: Company, failure: DomainError | None) -> None:
    if failure is not None and not getattr(failure, "counted", False):
        record_fallback(kind=kind, company_id=company.pk)


def store_in_transaction(on_result: Callable[[Generation], None], generation) -> None:
    with transaction.atomic():
        on_result(generation)


def _expired(rows: Sequence[GeneratedContent]) -> set[int]:
    """Rows past their expires_at are served marked stale (not written: the row keeps
    serving until its replacement exists) and their artefact is refreshed in the
    background, once (schedule_revalidation claims it)."""
    now = timezone.now()
    expired: set[int] = set()
    queued: set[int] = set()
    for row in rows:
        if row.status in LIVE and row.expires_at is not None and row.expires_at <= now:
            expired.add(row.pk)
            if row.generation_id and row.generation_id not in queued:
                queued.add(row.generation_id)
                schedule_revalidation(Generation(pk=row.generation_id))
    return expired


def serve(
    kind: str,
    company: Company,
    page: ContentPage,
    *,
    present_rows: bool,
    hit: bool,
) -> ContentPage:
    """Expiry, the hit count (a read served from stored current content with 0 calls)
    and the showing."""
    rows = page.items
    page.expired = _expired(rows)
    if hit and rows and not page.expired:
        record_hit(kind=kind, company_id=company.pk)
    if present_rows:
        page.new = present(rows=rows)
    return page
