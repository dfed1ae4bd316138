"""Workflows of the journey and its AI content: progress, context, reads that generate
what is missing, presentation, and the recommendation lifecycle.

Content is generated through generation.flight.get_or_generate, one provider call
per missing artefact; the domain row is written in its on_result (inside the
write-through transaction). A company context change makes new content because the
context is part of every generation's inputs, hence of its key.
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from companies.models import WRITE_ROLES, Company, Membership
from core.errors import DomainError, IllegalTransition
from core.prepared import JoinedQuery, Preloaded
from generation.errors import BudgetExceeded, PromptMissing, ProviderUnavailable
from generation.flight import (
    GenerationResult,
    Source,
    get_or_generate,
    record_fallback,
    register_refresher,
    schedule_revalidation,
)
from generation.hashing import sha256_of
from generation.hits import record_hit
from generation.models import Generation
from generation.throttles import charge_generation
from generation.writebehind import RowCounts
from recommendations import selectors
from recommendations.lifecycle import LIVE, Status, presented_status
from recommendations.models import (
    MAX_MATURITY,
    CompanyDomainProgress,
    CompanyStepProgress,
    ContextSnapshot,
    GeneratedContent,
    HealthSummary,
    Insight,
    JourneyDomain,
    JourneyStep,
    Recommendation,
    RecommendationEffectiveness,
    StepStatus,
)

logger = logging.getLogger(__name__)

KIND_RECOMMENDATION = "recommendation"
KIND_INSIGHT = "insight"
KIND_HEALTH = "health_summary"
# Prompt keys are the kinds.
CONTENT_MODELS: dict[str, type[GeneratedContent]] = {
    KIND_RECOMMENDATION: Recommendation,
    KIND_INSIGHT: Insight,
    KIND_HEALTH: HealthSummary,
}
# Failures that leave a slot empty instead of failing the whole read.
GENERATION_FAILURES = (ProviderUnavailable, BudgetExceeded)


# --- what a read looks up once --------------------------------------------------------


@dataclass
class ReadLookups:
    """The current context and the active prompt versions of a company, looked up once
    per request (with the company and its membership check, selectors.company_for_read)
    and shared by every read of that request."""

    company: Company
    context_hash: str | None
    prompt_ids: dict[str, int | None]
    snapshot: ContextSnapshot | None = None
    # The requesting user's role in the company, loaded with it (None: not loaded).
    reader_role: str | None = None
    # Content read with the membership by the request's authentication (JoinedQuery).
    preloaded: Preloaded | None = None

    @property
    def reader_can_write(self) -> bool:
        return self.reader_role in WRITE_ROLES

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


def company_for_read(
    *,
    user,
    company_id: int,
    membership: Membership | None = None,
    read_with: tuple[JoinedQuery, dict[str, Any]] | None = None,
) -> Company | None:
    """The user's company with its ReadLookups attached, in one query (None: not theirs).
    A `membership` loaded with the lookups (selectors.READ_MEMBERSHIP, by the request's
    authentication) costs no query at all. `read_with`: selectors.company_for_read's."""
    if membership is not None and membership.company_id == company_id:
        company, annotated, role = membership.company, membership, membership.role
        preloaded = getattr(membership, "preloaded", None)
    else:
        company = annotated = selectors.company_for_read(
            user=user, company_id=company_id, read_with=read_with
        )
        role = company.member_role if company is not None else None
        preloaded = company.preloaded if company is not None else None
    if company is not None:
        company.read_lookups = ReadLookups(
            company=company,
            context_hash=annotated.current_context_hash,
            prompt_ids={
                k: getattr(annotated, f"active_prompt_{k}") for k in selectors.CONTENT_KINDS
            },
            reader_role=role,
            preloaded=preloaded,
        )
    return company


def lookups_for(company: Company) -> ReadLookups:
    """The request's lookups when the company was loaded by company_for_read; otherwise
    (a task, the admin, a test) looked up now."""
    lookups = getattr(company, "read_lookups", None)
    if lookups is None:
        fresh = selectors.with_read_lookups(Company.objects.filter(pk=company.pk)).first()
        lookups = ReadLookups(
            company=company,
            context_hash=fresh.current_context_hash,
            prompt_ids={k: getattr(fresh, f"active_prompt_{k}") for k in selectors.CONTENT_KINDS},
        )
    return lookups


# --- company context ------------------------------------------------------------------


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
    the current one."""
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
    lookups = getattr(company, "read_lookups", None)
    if lookups is not None:  # this request's later reads see the new context
        lookups.context_hash, lookups.snapshot = snapshot.context_hash, snapshot
    return snapshot


def current_snapshot(*, company: Company) -> ContextSnapshot:
    return selectors.current_snapshot_or_none(company=company) or refresh_context(company=company)


# --- progress -------------------------------------------------------------------------


def update_step_progress(
    *, company: Company, step: JourneyStep, status: str
) -> CompanyStepProgress:
    """Move a company's step to a status; the context changes, so the content bound to
    the old context becomes stale. Completing a step completes the recommendations for
    it that someone had started."""
    if status not in StepStatus.values:
        raise ValueError(f"unknown step status {status!r}")
    now = timezone.now()
    with transaction.atomic():
        Company.objects.select_for_update().filter(pk=company.pk).exists()
        progress, _ = CompanyStepProgress.objects.select_for_update().get_or_create(
            company=company, step=step, defaults={"last_activity_at": now}
        )
        if progress.status == status:
            return progress  # no change, no new context
        progress.status = status
        if status == StepStatus.NOT_STARTED:
            progress.started_at = progress.completed_at = None
        else:
            progress.started_at = progress.started_at or now
            progress.completed_at = now if status == StepStatus.COMPLETED else None
        progress.last_activity_at = now
        progress.save()
        _update_maturity(company=company, domain_id=step.domain_id, now=now)
        if status == StepStatus.COMPLETED:
            for rec in Recommendation.objects.select_for_update().filter(
                company=company, step=step, status=Status.ACTIVE, started_at__isnull=False
            ):
                _complete(rec, now=now)
        snapshot = refresh_context(company=company)
        mark_context_stale_for_company(company=company, context_hash=snapshot.context_hash)
    return progress


def set_domain_maturity(
    *, company: Company, domain: JourneyDomain, level: int
) -> CompanyDomainProgress:
    """Set a company's maturity level in a domain by hand (the admin); the context
    changes, so it is refreshed and the old context's content becomes stale."""
    if not 0 <= level <= MAX_MATURITY:
        raise ValueError(f"maturity level {level} outside 0-{MAX_MATURITY}")
    with transaction.atomic():
        Company.objects.select_for_update().filter(pk=company.pk).exists()
        progress, _ = CompanyDomainProgress.objects.update_or_create(
            company=company,
            domain=domain,
            defaults={"maturity_level": level, "updated_at": timezone.now()},
        )
        snapshot = refresh_context(company=company)
        mark_context_stale_for_company(company=company, context_hash=snapshot.context_hash)
    return progress


def _update_maturity(*, company: Company, domain_id: int, now: datetime) -> None:
    total = JourneyStep.objects.filter(domain_id=domain_id).count()
    done = CompanyStepProgress.objects.filter(
        company=company, step__domain_id=domain_id, status=StepStatus.COMPLETED
    ).count()
    level = done * MAX_MATURITY // total if total else 0
    CompanyDomainProgress.objects.update_or_create(
        company=company, domain_id=domain_id, defaults={"maturity_level": level, "updated_at": now}
    )


def mark_context_stale_for_company(*, company: Company, context_hash: str) -> int:
    """Stale every context-bound row of the company made under another context."""
    now = timezone.now()
    total = 0
    for model in CONTENT_MODELS.values():
        total += (
            model.objects.filter(model.context_bound(), company=company)
            .exclude(context_hash=context_hash)
            .update(status=Status.STALE, stale_at=now)
        )
    return total


# --- presentation ---------------------------------------------------------------------

# Showings not yet written, per (model, pk): counted by present(), written by the
# write-behind flush (generation/writebehind.py: every HIT_FLUSH_SECONDS, and at exit).
_showings = RowCounts(count_field="times_presented", at_field="last_presented_at")


def present(*, rows: Sequence[GeneratedContent]) -> None:
    """Record that these rows were shown, without writing on the read's path.

    The lifecycle's fresh -> active edge is the one write: it happens once in a row's
    life, at its first showing, in one conditional UPDATE for the page that returns the
    rows it changed; only the request that changed a row reports it `is_new`, and
    the change never waits for a flush that could be lost. Every other showing
    (`times_presented`, `last_presented_at`) is counted in memory and written once per
    row and flush interval.
    """
    if not rows:
        return
    model = type(rows[0])
    now = timezone.now()
    fresh = [row.pk for row in rows if row.status == Status.FRESH]
    made_active = _activate(model, fresh, now) if fresh else set()
    for row in rows:
        row.was_fresh = row.pk in made_active
        if row.status == Status.FRESH:
            row.status = presented_status(row.status)
        if row.was_fresh:
            row.times_presented += 1  # written by _activate
        else:
            # Stored count plus this process's pending ones, this showing included.
            row.times_presented += _showings.add((model, row.pk), at=now)
        row.last_presented_at = now


def _activate(model: type[GeneratedContent], pks: list[int], now) -> set[int]:
    """fresh -> active for those of `pks` still fresh, counted as their first showing;
    returns the pks this call changed."""
    table = connection.ops.quote_name(model._meta.db_table)
    placeholders = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, last_presented_at = %s, "
            "times_presented = times_presented + 1 "
            f"WHERE id IN ({placeholders}) AND status = %s RETURNING id",
            [Status.ACTIVE, now, *sorted(pks), Status.FRESH],
        )
        return {pk for (pk,) in cursor.fetchall()}


# --- storing generated content --------------------------------------------------------


def _provenance(generation: Generation, kind: str) -> dict[str, Any]:
    generated_at = generation.completed_at or timezone.now()
    return {
        "generation": generation,
        "prompt_id": generation.prompt_id,
        "prompt_version": generation.prompt.version if generation.prompt_id else None,
        "model": generation.model,
        "provider": generation.provider,
        "generated_at": generated_at,
        "expires_at": generated_at + settings.EVERGREEN_EXPIRY[kind],
    }


def _replace_older_prompt(existing: models.QuerySet, generation: Generation) -> None:
    """Live rows of the same slot made with another prompt version are replaced now."""
    existing.filter(status__in=LIVE).exclude(prompt_id=generation.prompt_id).update(
        status=Status.STALE, stale_at=timezone.now()
    )


def _create_once(content_model: type[models.Model], existing: models.QuerySet, /, **fields) -> None:
    """Create a domain row unless a live one exists; a concurrent twin is not an error."""
    if existing.exists():
        return
    try:
        with transaction.atomic():
            content_model.objects.create(**fields)
    except IntegrityError:
        logger.info("%s row already written by a concurrent reader", content_model.__name__)


def _store_recommendation(
    generation: Generation, *, company: Company, step: JourneyStep, context_hash: str
) -> None:
    slot = Recommendation.objects.filter(company=company, step=step, context_hash=context_hash)
    _replace_older_prompt(slot, generation)
    _create_once(
        Recommendation,
        slot.exclude(status=Status.STALE),
        company=company,
        step=step,
        context_hash=context_hash,
        content=generation.result,
        **_provenance(generation, KIND_RECOMMENDATION),
    )


def _store_insights(
    generation: Generation,
    *,
    company: Company,
    domain: JourneyDomain,
    step: JourneyStep | None,
    context_hash: str,
) -> None:
    target = {"step": step} if step is not None else {"domain": domain, "step__isnull": True}
    slot = Insight.objects.filter(company=company, context_hash=context_hash, **target)
    _replace_older_prompt(slot, generation)
    if slot.filter(generation=generation, status__in=LIVE).exists():
        return
    provenance = _provenance(generation, KIND_INSIGHT)
    Insight.objects.bulk_create(
        Insight(
            company=company,
            domain=domain,
            step=step,
            context_hash=context_hash,
            content=item["content"],
            author_profile=item["author_profile"],
            relevance_score=min(1.0, max(0.5, float(item["relevance_score"]))),
            **provenance,
        )
        for item in (generation.result or {}).get("insights", [])
    )


def _store_health(generation: Generation, *, company: Company, context_hash: str) -> None:
    slot = HealthSummary.objects.filter(company=company, context_hash=context_hash)
    _replace_older_prompt(slot, generation)
    _create_once(
        HealthSummary,
        slot.exclude(status=Status.STALE),
        company=company,
        context_hash=context_hash,
        content=generation.result,
        **_provenance(generation, KIND_HEALTH),
    )


def _stored(result: GenerationResult) -> bool:
    """Whether the result is content of this very key (not another one's fallback)."""
    return result.source in (Source.GENERATED, Source.CACHE, Source.SHARED)


# --- reads that generate what is missing ----------------------------------------------


@dataclass
class ContentPage:
    items: list = field(default_factory=list)
    context_hash: str = ""
    # A provider or budget failure that left some content missing (the page degrades).
    error: str = ""
    # The same failure as the error a read raises when it has nothing to serve.
    failure: DomainError | None = None


def _failure_of(result: GenerationResult) -> DomainError:
    """The error of a result that is not this key's content (another key's fallback);
    the flight has already counted it as a fallback read."""
    failure = (result.failure or ProviderUnavailable)(result.error or None)
    failure.counted = True
    return failure


def _count_fallback(kind: str, company: Company, failure: DomainError | None) -> None:
    if failure is not None and not getattr(failure, "counted", False):
        record_fallback(kind=kind, company_id=company.pk)


def _mark_fallback(rows: Iterable[GeneratedContent]) -> None:
    for row in rows:
        row.served_as_fallback = True


def _check_expiry(rows: Sequence[GeneratedContent]) -> int:
    """Rows past their expires_at are served marked stale (not written: the row keeps
    serving until its replacement exists) and their artefact is refreshed in the
    background, once (schedule_revalidation claims it). Returns how many expired."""
    now = timezone.now()
    expired = 0
    queued: set[int] = set()
    for row in rows:
        if row.status in LIVE and row.expires_at is not None and row.expires_at <= now:
            row.status = Status.STALE
            row.expired = True
            expired += 1
            if row.generation_id and row.generation_id not in queued:
                queued.add(row.generation_id)
                schedule_revalidation(Generation(pk=row.generation_id))
    return expired


def _serve(kind: str, company: Company, rows: list, *, present_rows: bool, hit: bool) -> None:
    """Expiry, the hit count (a read served from stored current content with 0 calls)
    and the showing."""
    expired = _check_expiry(rows)
    if hit and rows and not expired:
        record_hit(kind=kind, company_id=company.pk)
    if present_rows:
        present(rows=rows)


def recommendations_for(
    *, company: Company, limit: int | None = None, present_rows: bool = True
) -> ContentPage:
    """Up to `limit` recommendations: the ones the company has started (until they are
    completed or expire), then the live ones of the current context and prompt version,
    generating one per missing step. Short of the limit, live ones of other contexts
    fill the page; when generation failed, the most recent earlier recommendations
    (current context first, whatever their status) are served marked as fallback. The
    read raises (503, or 429 for a spent budget) only when there is nothing to serve."""
    limit = limit or settings.RECOMMENDATIONS_DEFAULT_LIMIT
    lookups = lookups_for(company)
    context_hash = lookups.current_hash()
    # Content of another prompt version is not current: a new version means new content.
    prompt_id = lookups.prompt_id(KIND_RECOMMENDATION)
    rows = selectors.current_recommendations(
        company=company, context_hash=context_hash, prompt_id=prompt_id, limit=limit
    )
    failure = None
    generated = False
    # Short of the limit: generate only when some step is not covered yet (one query);
    # a read whose rows already cover every step never enters the generation path.
    if len(rows) < limit and selectors.has_uncovered_steps(
        company=company, context_hash=context_hash, prompt_id=prompt_id
    ):
        generated = True
        made, failure = _generate_recommendations(
            company=company,
            snapshot=lookups.current_snapshot(),
            prompt_id=prompt_id,
            missing=limit - len(rows),
        )
        if made:
            rows = selectors.current_recommendations(
                company=company, context_hash=context_hash, prompt_id=prompt_id, limit=limit
            )
    if len(rows) < limit:
        rows += selectors.fallback_recommendations(
            company=company, exclude=[r.pk for r in rows], limit=limit - len(rows)
        )
    if len(rows) < limit and failure is not None:
        earlier = selectors.earlier_recommendations(
            company=company,
            context_hash=context_hash,
            exclude=[r.pk for r in rows],
            exclude_steps=[r.step_id for r in rows],
            limit=limit - len(rows),
        )
        _mark_fallback(earlier)
        rows += earlier
    if not rows and failure is not None:
        raise failure
    if failure is not None and rows:
        _count_fallback(KIND_RECOMMENDATION, company, failure)
    _serve(KIND_RECOMMENDATION, company, rows, present_rows=present_rows, hit=not generated)
    return ContentPage(
        items=rows,
        context_hash=context_hash,
        error=failure.message if failure else "",
        failure=failure,
    )


def _recommendation_inputs(snapshot: ContextSnapshot, step: JourneyStep) -> dict[str, Any]:
    """The real inputs only: a rolled-back prompt version finds its earlier key again."""
    return {
        "context": snapshot.context_data,
        "step": {
            "key": step.key,
            "name": step.name,
            "domain": step.domain.name,
            "description": step.description,
        },
    }


def _generate_recommendations(
    *, company: Company, snapshot: ContextSnapshot, prompt_id: int, missing: int
) -> tuple[int, DomainError | None]:
    here = Q(context_hash=snapshot.context_hash)
    # A step is covered by a completed recommendation of this context, a live one of
    # this context and prompt version, or a live one of another context (one someone
    # started survives context changes).
    covered = (
        (here & Q(status=Status.COMPLETED))
        | (here & Q(status__in=LIVE, prompt_id=prompt_id))
        | (~here & Q(status__in=LIVE))
    )
    taken = set(
        Recommendation.objects.filter(covered, company=company).values_list("step_id", flat=True)
    )
    steps = [s for s in selectors.next_steps(company=company) if s.id not in taken][:missing]
    if steps:
        charge_generation()  # this request may call the model: throttled as such
    made = 0
    for step in steps:

        def on_result(generation: Generation, step: JourneyStep = step) -> None:
            _store_recommendation(
                generation, company=company, step=step, context_hash=snapshot.context_hash
            )

        try:
            result = get_or_generate(
                kind=KIND_RECOMMENDATION,
                scope=f"company:{company.pk}:step:{step.pk}",
                prompt_key=KIND_RECOMMENDATION,
                inputs=_recommendation_inputs(snapshot, step),
                company_id=company.pk,
                on_result=on_result,
            )
        except GENERATION_FAILURES as exc:
            # Do not ask a failing provider again for the next slot in this request.
            return made, exc
        if not _stored(result):
            return made, _failure_of(result)
        if result.source != Source.GENERATED:
            _store_in_transaction(on_result, result.generation)  # its row may not exist
        made += 1
    return made, None


def _store_in_transaction(on_result: Callable[[Generation], None], generation) -> None:
    with transaction.atomic():
        on_result(generation)


def resolve_insight_target(
    *,
    company: Company,
    domain: JourneyDomain | None,
    step: JourneyStep | None,
    journey: list[JourneyDomain] | None = None,
) -> tuple[JourneyDomain | None, JourneyStep | None]:
    """A step implies its domain; with neither, the domain of the company's next step
    (from `journey`, selectors.journey_for's domains, when the caller has read it)."""
    if step is not None:
        return step.domain, step
    if domain is not None:
        return domain, None
    upcoming = selectors.next_steps(company=company, journey=journey)
    if upcoming:
        return upcoming[0].domain, None
    return JourneyDomain.objects.first(), None


def insights_cover_target(
    *,
    company: Company,
    rows: Sequence[Insight],
    domain: JourneyDomain,
    step: JourneyStep | None,
) -> bool:
    """Whether rows already read show a live insight of the target for the current
    context and prompt version: then ensure_insights has nothing to do (no query)."""
    lookups = lookups_for(company)
    context_hash, prompt_id = lookups.current_hash(), lookups.prompt_ids.get(KIND_INSIGHT)
    for row in rows:
        on_target = (
            row.step_id == step.pk
            if step is not None
            else (row.step_id is None and row.domain_id == domain.pk)
        )
        if (
            on_target
            and row.status in LIVE
            and row.context_hash == context_hash
            and row.prompt_id == prompt_id
        ):
            return True
    return False


def insights_for(
    *,
    company: Company,
    domain: JourneyDomain,
    step: JourneyStep | None,
    take: Callable[[models.QuerySet], list],
) -> ContentPage:
    """The insights of a domain (or step) for the current context, made if missing;
    when they cannot be made, the target's earlier ones marked as fallback. `take`
    turns the queryset into the page's rows (the API paginates, the dashboard slices):
    the API and the dashboard read through this one function."""
    context_hash = lookups_for(company).current_hash()
    rows = take(
        selectors.current_insights(
            company=company, context_hash=context_hash, domain=domain, step=step
        )
    )
    # The page shows the target's current insights: nothing to make, no query more.
    if insights_cover_target(company=company, rows=rows, domain=domain, step=step):
        _serve(KIND_INSIGHT, company, rows, present_rows=True, hit=True)
        return ContentPage(items=rows, context_hash=context_hash)
    context_hash, failure = ensure_insights(company=company, domain=domain, step=step)
    queryset = selectors.insights_queryset(
        company=company, context_hash=context_hash, domain=domain, step=step
    )
    if failure is not None and not queryset.exists():
        # The provider failed: serve the target's earlier insights, marked as such.
        queryset = selectors.insights_queryset(
            company=company, domain=domain, step=step, live_only=False
        )
        if not queryset.exists():
            raise failure
        rows = take(queryset)
        _mark_fallback(rows)
        _count_fallback(KIND_INSIGHT, company, failure)
    else:
        rows = take(queryset)
    _serve(KIND_INSIGHT, company, rows, present_rows=True, hit=False)
    return ContentPage(
        items=rows,
        context_hash=context_hash,
        error=failure.message if failure else "",
        failure=failure,
    )


def ensure_insights(
    *, company: Company, domain: JourneyDomain, step: JourneyStep | None
) -> tuple[str, DomainError | None]:
    """Make the insights of a domain (or a step) for the current context if there are
    none; returns (context_hash, failure)."""
    lookups = lookups_for(company)
    context_hash = lookups.current_hash()
    prompt_id = lookups.prompt_id(KIND_INSIGHT)
    target = {"step": step} if step is not None else {"domain": domain, "step__isnull": True}
    in_context = Insight.objects.filter(company=company, context_hash=context_hash, **target)
    if in_context.filter(status__in=LIVE, prompt_id=prompt_id).exists():
        return context_hash, None
    charge_generation()
    snapshot = lookups.current_snapshot()
    inputs = {
        "context": snapshot.context_data,
        "target": {"domain": domain.name, "step": step.name if step else ""},
    }
    scope = f"company:{company.pk}:domain:{domain.pk}" + (f":step:{step.pk}" if step else "")

    def on_result(generation: Generation) -> None:
        _store_insights(
            generation,
            company=company,
            domain=domain,
            step=step,
            context_hash=snapshot.context_hash,
        )

    try:
        result = get_or_generate(
            kind=KIND_INSIGHT,
            scope=scope,
            prompt_key=KIND_INSIGHT,
            inputs=inputs,
            company_id=company.pk,
            on_result=on_result,
        )
    except GENERATION_FAILURES as exc:
        return snapshot.context_hash, exc
    if not _stored(result):
        return snapshot.context_hash, _failure_of(result)
    if result.source != Source.GENERATED:
        _store_in_transaction(on_result, result.generation)
    return snapshot.context_hash, None


def health_summary_for(*, company: Company, present_row: bool = True) -> ContentPage:
    """The health summary of the current context, generated if missing; when that fails,
    the latest earlier one, marked as fallback."""
    lookups = lookups_for(company)
    context_hash = lookups.current_hash()
    prompt_id = lookups.prompt_id(KIND_HEALTH)
    row = selectors.current_health_summary(
        company=company, context_hash=context_hash, prompt_id=prompt_id
    )
    failure = None
    hit = row is not None
    if row is None:
        charge_generation()
        failure = _generate_health(company=company, snapshot=lookups.current_snapshot())
        row = selectors.current_health_summary(
            company=company, context_hash=context_hash, prompt_id=prompt_id
        )
        if row is None:
            row = selectors.latest_health_summary(company=company)
            if row is not None:
                _mark_fallback([row])
                _count_fallback(KIND_HEALTH, company, failure)
    if row is None:
        raise failure or ProviderUnavailable()
    _serve(KIND_HEALTH, company, [row], present_rows=present_row, hit=hit)
    return ContentPage(
        items=[row],
        context_hash=context_hash,
        error=failure.message if failure else "",
        failure=failure,
    )


def _generate_health(*, company: Company, snapshot: ContextSnapshot) -> DomainError | None:
    def on_result(generation: Generation) -> None:
        _store_health(generation, company=company, context_hash=snapshot.context_hash)

    try:
        result = get_or_generate(
            kind=KIND_HEALTH,
            scope=f"company:{company.pk}",
            prompt_key=KIND_HEALTH,
            inputs={"context": snapshot.context_data},
            company_id=company.pk,
            on_result=on_result,
        )
    except GENERATION_FAILURES as exc:
        return exc
    if not _stored(result):
        return _failure_of(result)
    if result.source != Source.GENERATED:
        _store_in_transaction(on_result, result.generation)
    return None


# --- background refresh of an artefact (expiry, the admin's regenerate) ----------------


def refresh_rows(generation: Generation) -> None:
    """Replace the live rows made from this artefact by rows of its new content. Runs in
    the write-through transaction of generation.flight.revalidate."""
    model = CONTENT_MODELS[generation.kind]
    old = list(model.objects.select_for_update().filter(generation=generation, status__in=LIVE))
    if not old:
        return
    model.objects.filter(pk__in=[r.pk for r in old]).update(
        status=Status.STALE, stale_at=timezone.now()
    )
    first = old[0]
    if model is Insight:
        _store_insights(
            generation,
            company=first.company,
            domain=first.domain,
            step=first.step,
            context_hash=first.context_hash,
        )
    elif model is Recommendation:
        for row in old:
            _store_recommendation(
                generation, company=row.company, step=row.step, context_hash=row.context_hash
            )
    else:
        _store_health(generation, company=first.company, context_hash=first.context_hash)


# --- the recommendation lifecycle and its effectiveness -------------------------------


def start_recommendation(*, recommendation: Recommendation) -> Recommendation:
    """fresh -> active (or stay active); the first start records time-to-start."""
    now = timezone.now()
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().get(pk=recommendation.pk)
        if rec.status == Status.FRESH:
            rec.transition_to(Status.ACTIVE)
            # Becoming active by a start is a showing too (fresh rows were never shown).
            rec.last_presented_at = now
            rec.times_presented += 1
            rec.save(update_fields=["last_presented_at", "times_presented"])
        elif rec.status != Status.ACTIVE:
            raise IllegalTransition(
                f"A {rec.status} recommendation cannot be started.",
                current=rec.status,
                requested="started",
            )
        if rec.started_at is None:
            rec.started_at = now
            rec.save(update_fields=["started_at"])
            _effectiveness(rec).update(was_started=True, time_to_start=now - rec.generated_at)
    return rec


def complete_recommendation(*, recommendation: Recommendation) -> Recommendation:
    """active -> completed; records time-to-complete."""
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().get(pk=recommendation.pk)
        _complete(rec, now=timezone.now())
    return rec


def _complete(rec: Recommendation, *, now: datetime) -> None:
    rec.transition_to(Status.COMPLETED)
    rec.completed_at = now
    rec.save(update_fields=["completed_at"])
    _effectiveness(rec).update(was_completed=True, time_to_complete=now - rec.generated_at)


def _effectiveness(rec: Recommendation) -> models.QuerySet:
    RecommendationEffectiveness.objects.get_or_create(
        recommendation=rec, defaults={"company_id": rec.company_id}
    )
    return RecommendationEffectiveness.objects.filter(recommendation=rec)


def record_feedback(
    *, recommendation: Recommendation, rating: int, helpful: bool | None, comment: str, by
) -> Recommendation:
    """Keep the user's opinion of a recommendation (any status; the last one wins)."""
    feedback = {
        "rating": rating,
        "helpful": helpful,
        "comment": comment,
        "by": getattr(by, "pk", None),
        "at": timezone.now().isoformat(),
    }
    Recommendation.objects.filter(pk=recommendation.pk).update(user_feedback=feedback)
    recommendation.user_feedback = feedback
    return recommendation


for _kind in CONTENT_MODELS:
    register_refresher(_kind, refresh_rows)


# --- admin actions --------------------------------------------------------------------


def mark_stale(*, rows: Iterable[GeneratedContent]) -> int:
    """Stale each row the lifecycle allows; returns how many changed."""
    changed = 0
    for row in rows:
        try:
            row.transition_to(Status.STALE)
        except IllegalTransition:
            continue
        changed += 1
    return changed


def regenerate(*, rows: Sequence[GeneratedContent]) -> tuple[int, int]:
    """Ask the model again for the artefacts behind these rows, in the background: one
    refresh is queued per artefact (generation.flight.schedule_revalidation), and the
    rows keep serving until refresh_rows replaces them. Rows without an artefact are
    marked stale (the next read makes them). Returns (refreshes queued, rows staled)."""
    queued = 0
    seen: set[int] = set()
    orphans = []
    for row in rows:
        if row.generation_id is None:
            orphans.append(row)
        elif row.generation_id not in seen:
            seen.add(row.generation_id)
            queued += schedule_revalidation(Generation(pk=row.generation_id))
    return queued, mark_stale(rows=orphans)
