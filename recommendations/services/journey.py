"""A company's progress on the journey, and changes to the journey itself.

Every change here changes the company context, so the content bound to the old
context becomes stale, and the company's read lookups change with it.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from companies.models import Company
from companies.services import company_reads_changed
from recommendations.lifecycle import Status
from recommendations.models import (
    MAX_MATURITY,
    CompanyDomainProgress,
    CompanyStepProgress,
    JourneyDomain,
    JourneyStep,
    Recommendation,
    StepStatus,
)
from recommendations.services.content import CONTENT_MODELS
from recommendations.services.context import refresh_context
from recommendations.services.lifecycle import complete


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
                complete(rec, now=now)
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


def journey_changed() -> int:
    """The journey's definition (its domains or steps) was edited: every company's
    reads show it from now on. Call inside the transaction of the edit."""
    return company_reads_changed()


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
