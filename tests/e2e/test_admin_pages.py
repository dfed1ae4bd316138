"""Curating prompts in the admin, in a real browser: the prompt pages (list, change
form, activation preview and its dry run) have no serious or critical axe violation,
and the ledger's cost column is seen at 1280px without scrolling sideways."""

from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.utils import timezone

from generation.models import Generation, GenerationLog, GenerationStatus
from generation.prompts import new_version_from
from tests.builders import make_company, make_prompt
from tests.e2e.conftest import PASSWORD, VIEWPORT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BLOCKING = ("serious", "critical")


@pytest.fixture
def curator(transactional_db):
    user = get_user_model().objects.create_superuser("curator", "curator@example.com", PASSWORD)
    return user


@pytest.fixture
def draft(transactional_db):
    """tip v1 active with stored artefacts and their calls; v2 a draft."""
    v1 = make_prompt(key="tip", model="gpt-4o-mini")
    company = make_company(name="Acme Corporation International")
    for n in range(4):
        generation = Generation.objects.create(
            kind="recommendation",
            scope=f"company:{company.pk}:topic:{n}",
            context_hash=f"ctx-{n}",
            company=company,
            prompt=v1,
            inputs={"topic": f"topic {n}"},
            text=f"An old tip about topic {n}.",
            status=GenerationStatus.COMPLETED,
            completed_at=timezone.now(),
        )
        GenerationLog.objects.create(
            kind="recommendation",
            company=company,
            prompt=v1,
            generation=generation,
            provider="openai",
            model="gpt-4o-mini-2024-07-18",
            tokens_in=123456,
            tokens_out=65432,
            cost=Decimal("0.123456"),
            attempts=1,
            outcome="success",
            origin=f"review-run:{n}",
        )
    return new_version_from(prompt=v1, template="A better tip about {{ topic }}.")


def blocking_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def test_prompt_admin_pages_have_no_serious_accessibility_violations(browser, curator, draft):
    browser.sign_in("curator")
    page = browser.page
    pages = {
        "prompt list": "/admin/generation/prompt/",
        "prompt change form": f"/admin/generation/prompt/{draft.pk}/change/",
        "activation preview": f"/admin/generation/prompt/{draft.pk}/preview/",
    }
    found = {}
    for name, path in pages.items():
        assert browser.goto(path).status == 200, name
        found[name] = blocking_violations(page)
    assert "would supersede" in page.goto(browser.url(pages["prompt change form"])).text()

    browser.goto(pages["activation preview"])
    assert page.locator('[data-fact="superseded"]').inner_text().startswith("4 ")
    page.click("text=Dry run on up to 3 sample contexts")
    page.wait_for_selector("text=Dry run")
    assert page.locator(".preview-sample").count() == 3
    assert page.locator(".preview-pair pre").first.inner_text().startswith("An old tip")
    found["dry run"] = blocking_violations(page)
    browser.screenshot("admin-prompt-preview")

    assert found == {name: [] for name in found}
    assert Generation.objects.count() == 4  # the dry run stored nothing as content


def test_the_logs_cost_column_is_seen_at_1280px_without_scrolling(browser, curator, draft):
    browser.sign_in("curator")
    page = browser.page

    assert browser.goto("/admin/generation/generationlog/").status == 200

    cost = page.locator("#result_list th.column-cost").bounding_box()
    results = page.locator("#changelist .results")
    scroll = results.evaluate("el => [el.scrollWidth, el.clientWidth]")
    box = results.bounding_box()
    assert cost is not None and box is not None
    assert cost["x"] + cost["width"] <= min(VIEWPORT["width"], box["x"] + box["width"])
    browser.screenshot("admin-generation-log")
    assert scroll[0] <= scroll[1]  # nothing hidden behind a horizontal scroll
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    assert page.locator('[data-total="cost"]').inner_text() == "0.493824"
    assert page.locator('[data-total="calls"]').inner_text() == "4"
    browser.screenshot("admin-generation-log")
    assert blocking_violations(page) == []
