"""The screenshots in docs/screenshots/: every member page and the main admin pages, on
a desktop (1280x800) and a phone (390x844), of the demo data with fixed times.

Skipped unless EVERGREEN_SCREENSHOTS_DIR names the folder to write them to; bin/screenshots
sets it. The pages show what is stored: every piece of content is written before the
browser opens, and the times the pages show are pinned, so the same code gives the same
pictures."""

import io
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from companies.models import Company, Membership
from deliverables.models import Deliverable, Workspace
from generation.models import Generation, GenerationLog, GenerationStatus, HitCounter, Prompt
from recommendations.models import (
    CompanyStepProgress,
    ContextSnapshot,
    HealthSummary,
    Insight,
    Recommendation,
)
from reviews.models import Decision, PersonaReview, ProposalVersion, Run, RunEvent
from tests.builders import run_queued_tasks
from tests.reviews.builders import start_run

OUT = os.environ.get("EVERGREEN_SCREENSHOTS_DIR", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not OUT, reason="EVERGREEN_SCREENSHOTS_DIR is not set (bin/screenshots)"),
]

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# The demo's usage happened in this period; the usage page is shown for it.
FIRST_DAY = date(2026, 6, 1)
DAYS = 30
# The moment everything the pages show a time of happened.
PINNED = datetime(2026, 6, 30, 9, 30, tzinfo=UTC)
USAGE = "07-usage"
HIT_KINDS = ("recommendation", "insight", "health_summary", "deliverable_display")
IDEA = "A shared team calendar that suggests meeting times from everyone's focus hours"


def _pin_times() -> None:
    """Every time a page or the admin shows, fixed; the usage spread over the period."""
    Company.objects.update(created_at=PINNED - timedelta(days=60))
    Membership.objects.update(created_at=PINNED - timedelta(days=60))
    Prompt.objects.update(created_at=PINNED - timedelta(days=45))
    # The calls in an order that does not depend on which task ran first, and their
    # token counts fixed too: the offline provider's counts follow the prompts' length,
    # which carries ids that differ between runs.
    logs = GenerationLog.objects.order_by("kind", "company__name", "pk")
    for index, pk in enumerate(logs.values_list("pk", flat=True)):
        moment = datetime.combine(FIRST_DAY, datetime.min.time(), UTC) + timedelta(
            days=(index * 7) % DAYS, hours=9, minutes=index
        )
        GenerationLog.objects.filter(pk=pk).update(
            created_at=moment,
            tokens_in=180 + (index * 53) % 400,
            tokens_out=90 + (index * 31) % 300,
        )
    # Reads counted by the warm-up depend on when the server flushed them: a fixed set
    # of reads stands in for them, on the companies' own kinds.
    HitCounter.objects.all().delete()
    companies = list(Company.objects.order_by("pk"))
    for offset in range(0, DAYS, 2):
        for number, kind in enumerate(HIT_KINDS):
            for place, company in enumerate(companies):
                hits = (offset * 3 + number * 5 + place * 4) % 11
                if hits:
                    HitCounter.objects.create(
                        day=FIRST_DAY + timedelta(days=offset),
                        kind=kind,
                        company=company,
                        hits=hits,
                    )
    Generation.objects.update(created_at=PINNED, updated_at=PINNED)
    Generation.objects.filter(completed_at__isnull=False).update(completed_at=PINNED)
    ContextSnapshot.objects.update(created_at=PINNED)
    CompanyStepProgress.objects.update(last_activity_at=PINNED)
    CompanyStepProgress.objects.filter(started_at__isnull=False).update(started_at=PINNED)
    CompanyStepProgress.objects.filter(completed_at__isnull=False).update(completed_at=PINNED)
    for model in (Recommendation, Insight, HealthSummary):
        model.objects.update(generated_at=PINNED)
        model.objects.filter(last_presented_at__isnull=False).update(last_presented_at=PINNED)
    Recommendation.objects.filter(started_at__isnull=False).update(started_at=PINNED)
    Workspace.objects.update(created_at=PINNED - timedelta(days=7))
    Deliverable.objects.update(created_at=PINNED - timedelta(days=7), updated_at=PINNED)
    Deliverable.objects.filter(transformation_timestamp__isnull=False).update(
        transformation_timestamp=PINNED
    )
    Run.objects.update(created_at=PINNED - timedelta(minutes=3), updated_at=PINNED)
    Run.objects.filter(finished_at__isnull=False).update(finished_at=PINNED)
    for model in (ProposalVersion, PersonaReview, Decision, RunEvent):
        model.objects.update(created_at=PINNED - timedelta(minutes=2))


@pytest.fixture
def demo(content_prompts):
    """load_demo's companies, journey and workspaces, and one review run."""
    call_command("load_demo", stdout=io.StringIO())
    membership = Membership.objects.select_related("company", "user").get(
        user__username="demo", company__name="Acme Demo"
    )
    run = start_run(member=membership, idea=IDEA)
    return membership, run


def _write_everything(browser, pages) -> None:
    """Open every page, then do the work they queued (what the cluster would do), until
    a round queues nothing: the pictures show finished content, not placeholders."""
    for _ in range(5):
        for _, path in pages:
            browser.goto(path)
        if run_queued_tasks() == 0:
            return
    raise AssertionError("the pages kept queueing work after 5 rounds")


def _pages(membership, run) -> list[tuple[str, str]]:
    company = membership.company
    workspace = Workspace.objects.filter(company=company).order_by("pk").first()
    prompt = Prompt.objects.filter(is_active=True).order_by("key", "pk").first()
    last_day = FIRST_DAY + timedelta(days=DAYS - 1)
    return [
        ("01-home", "/"),
        ("02-dashboard", f"/companies/{company.pk}/"),
        ("03-workspaces", "/workspaces/"),
        ("04-workspace", f"/workspaces/{workspace.pk}/"),
        ("05-reviews", "/reviews/"),
        ("06-review-run", f"/reviews/runs/{run.pk}/"),
        (USAGE, f"/usage/?since={FIRST_DAY:%Y-%m-%d}&until={last_day:%Y-%m-%d}"),
        ("08-admin", "/admin/"),
        ("09-admin-prompts", "/admin/generation/prompt/"),
        ("10-admin-prompt", f"/admin/generation/prompt/{prompt.pk}/change/"),
        ("11-admin-generation-logs", "/admin/generation/generationlog/"),
    ]


def test_screenshots_of_every_page_on_desktop_and_phone(demo, browser):
    membership, run = demo
    out = Path(OUT)
    out.mkdir(parents=True, exist_ok=True)
    browser.sign_in("demo", "demo")
    page = browser.page
    pages = _pages(membership, run)
    _write_everything(browser, pages)
    _pin_times()
    assert Generation.objects.filter(status=GenerationStatus.COMPLETED).exists()
    assert Run.objects.filter(pk=run.pk, finished_at__isnull=False).exists()

    taken = []
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        for name, path in pages:
            response = browser.goto(path)
            assert response.status == 200, f"{path}: {response.status}"
            page.wait_for_load_state("load")
            page.evaluate("document.fonts.ready")
            target = out / f"{name}-{size}.png"
            page.screenshot(path=str(target), animations="disabled", caret="hide")
            taken.append(target.name)
            if name == USAGE:
                # The charts themselves are below the period and the totals.
                page.locator("#chart-provider_calls").scroll_into_view_if_needed()
                target = out / f"{name}-charts-{size}.png"
                page.screenshot(path=str(target), animations="disabled", caret="hide")
                taken.append(target.name)

    assert len(taken) == 2 * (len(pages) + 1)
    assert browser.dialogs == []
