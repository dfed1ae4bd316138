"""The usage page in a real browser: charts a member can read (values and days on the
axes), no horizontal scroll on a phone, and no serious accessibility violation."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from generation.models import GenerationLog, HitCounter, Outcome
from tests.builders import make_company, make_member
from tests.e2e.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def member_with_usage(transactional_db):
    """A member whose company called the model on two days a week apart and read
    stored content on a third: the days between are quiet."""
    company = make_company(name="Acme")
    membership = make_member(company=company, username="alice")
    membership.user.set_password(PASSWORD)
    membership.user.save()
    today = timezone.localdate()
    for days_ago, kind, calls in ((9, "recommendation", 3), (2, "deliverable_display", 5)):
        for _ in range(calls):
            GenerationLog.objects.create(
                kind=kind,
                company=company,
                provider="offline",
                model="gpt-4o-mini",
                attempts=1,
                outcome=Outcome.SUCCESS,
                tokens_in=400,
                tokens_out=120,
                cost=Decimal("0.0021"),
                created_at=datetime.combine(today - timedelta(days=days_ago), time(12), UTC),
            )
    HitCounter.objects.create(
        day=today - timedelta(days=5), kind="recommendation", company=company, hits=12
    )
    return membership


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} nodes"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_usage_charts_have_value_and_day_ticks(browser, member_with_usage):
    browser.sign_in("alice")
    page = browser.page

    assert browser.goto("/usage/").status == 200

    chart = page.locator("#chart-provider_calls")
    values = chart.locator(".y-axis .tick").all_inner_texts()
    days = chart.locator(".x-axis .tick").all_inner_texts()
    # 5 calls on the busiest day: the value axis reaches at least 5, from 0.
    assert values[0] == "0"
    assert int(values[-1]) >= 5
    today = timezone.localdate()
    first = today - timedelta(days=29)
    assert f"{first:%b} {first.day}" in days
    assert len(days) >= 4
    assert chart.locator(".y-axis .unit").inner_text() == "calls"
    legend = page.locator(".legend").inner_text()
    assert "Recommendations" in legend
    assert "Deliverable displays" in legend
    assert "deliverable_display" not in legend


def test_usage_page_fits_a_phone_without_serious_accessibility_violations(
    browser, member_with_usage
):
    browser.sign_in("alice")
    page = browser.page
    page.set_viewport_size(PHONE)

    assert browser.goto("/usage/").status == 200

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the usage page is {width}px wide on a phone"
    assert serious_violations(page) == []
    # Staff also get the operations figures and their wide table: still no scroll.
    member_with_usage.user.is_staff = True
    member_with_usage.user.save()
    browser.goto("/usage/")
    assert page.locator("#operations").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the staff usage page is {width}px wide on a phone"
    assert serious_violations(page) == []
