"""The company context and what every read of a company's content looks up.

The context (steps done and in progress, domain maturity, last activity) is part of
every generation's inputs, hence of its key: a new context means new content. The
read lookups (current context hash, active prompt versions, the journey with the
company's progress) are cached by the company's `read_version`, which every change
to them raises in its own transaction (companies.services.company_reads_changed):
a reader that sees the new version misses the cache and reads the committed state.
"""

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction

from companies.models import Company
from companies.services import company_reads_changed
from generation.errors import PromptMissing
from generation.hashing import sha256_of
from recommendations import selectors
from recommendations.models import (
    CompanyDomainProgress,
    CompanyStepProgress,
    ContextSnapshot,
    StepStatus,
)

# Raise when what the cached lookups hold changes shape.
LOOKUPS_CACHE_VERSION = 1


@dataclass
class ReadLookups:
    """What the reads of one request look up once and share."""

    company: Company
    context_hash: str | None
    prompt_ids: dict[str, int | None]
    journey: list[selectors.DomainProgress]
    snapshot: ContextSnapshot | None = None

    def current_hash(self) -> str:
        if self.context_hash is None:  # the company's first read: make its context
            self.current_snapshot()
        return self.context_hash

    def current_snapshot(self) -> ContextSnapshot:
        """The whole snapshot (its data are generation inputs): the generation path only."""
        if self.snapshot is None or self.snapshot.context_hash != self.context_hash:
            self.snapshot = selectors.current_snapshot_or_none(
                company=self.company
            ) or refresh_context(company=self.company)
            self.context_hash = self.snapshot.context_hash
        return self.snapshot

    def prompt_id(self, kind: str) -> int:
        prompt_id = self.prompt_ids.get(kind)
        if prompt_id is None:
            raise PromptMissing(f"No active version of prompt {kind!r}.")
        return prompt_id


def _lookups_key(company: Company) -> str:
    return f"recommendations:lookups:{company.pk}:{company.read_version}:{LOOKUPS_CACHE_VERSION}"


def read_lookups(*, company: Company) -> ReadLookups:
    """The lookups of a company loaded in this request (with its membership, so its
    read_version is the committed one): from the cache, else three queries."""
    key = _lookups_key(company)
    cached = cache.get(key)
    if cached is None:
        cached = _load(company)
        cache.set(key, cached, timeout=None)
    context_hash, prompt_ids, journey = cached
    return ReadLookups(company, context_hash, dict(prompt_ids), journey)


def fresh_lookups(*, company: Company) -> ReadLookups:
    """The lookups read now, not from the cache: for callers (tasks, the admin) whose
    company row may be older than the last change."""
    context_hash, prompt_ids, journey = _load(company)
    return ReadLookups(company, context_hash, prompt_ids, journey)


def _load(company: Company) -> tuple[str | None, dict[str, int | None], list]:
    context_hash, prompt_ids = selectors.lookups_of(company=company)
    return context_hash, prompt_ids, selectors.journey_for(company=company)


def compute_context(*, company: Company) -> dict[str, Any]:
    """The company context: completed and in-progress steps, domain maturity
    levels and the last activity. Canonical: sorted, names instead of ids."""
    rows = list(CompanyStepProgress.objects.filter(company=company).select_related("step__domain"))
    levels = CompanyDomainProgress.objects.filter(company=company).values_list(
        "domain__slug", "maturity_level"
    )
    last = max((p.last_activity_at for p in rows), default=None)
    return {
        "completed_steps": sorted(p.step.key for p in rows if p.status == StepStatus.COMPLETED),
        "in_progress_steps": sorted(p.step.key for p in rows if p.status == StepStatus.IN_PROGRESS),
        "domain_levels": dict(sorted(levels)),
        "last_activity": last.isoformat() if last else None,
    }


def refresh_context(*, company: Company) -> ContextSnapshot:
    """Recompute the context, store its snapshot (unique per company + hash) and make it
    the current one. The company's reads change with it (its read version is raised)."""
    data = compute_context(company=company)
    context_hash = sha256_of(data)
    with transaction.atomic():
        # Serialises context changes of one company: one current snapshot at a time.
        Company.objects.select_for_update().filter(pk=company.pk).exists()
        ContextSnapshot.objects.filter(company=company, is_current=True).exclude(
            context_hash=context_hash
        ).update(is_current=False)
        snapshot, created = ContextSnapshot.objects.get_or_create(
            company=company,
            context_hash=context_hash,
            defaults={"context_data": data, "is_current": True},
        )
        if not created and not snapshot.is_current:
            ContextSnapshot.objects.filter(pk=snapshot.pk).update(is_current=True)
            snapshot.is_current = True
        company_reads_changed(company_id=company.pk)
    return snapshot


def current_snapshot(*, company: Company) -> ContextSnapshot:
    return selectors.current_snapshot_or_none(company=company) or refresh_context(company=company)
