"""Every member page on a phone and on a desktop, held to what people need: no sideways
scroll at 390px, no serious or critical axe-core violation, the first recommendation's
primary control a few Tab presses from the top of the dashboard, and a branded 404.
Screenshots of each page at both widths go to tests/e2e/screenshots/."""

import pytest

from companies.models import Membership
from generation.models import Generation
from recommendations import services as rec_services
from tests.builders import make_company
from tests.deliverables.builders import make_deliverables, make_workspace
from tests.e2e.conftest import PHONE, VIEWPORT, axe_violations, page_width, tabs_to
from tests.e2e.test_pages import member_with_password
from tests.recommendations.builders import make_journey
from tests.reviews.builders import start_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The first recommendation's primary control (start or complete) on the dashboard.
FIRST_PRIMARY = "#recommendations article[id^=rec-] .primary"
MAX_TABS = 15
# Touch targets: on a phone, and anywhere.
TOUCH_TARGET, MIN_TARGET = 44, 24


@pytest.fixture
def member_site(transactional_db):
    """A company with a 20-step journey, its content written, a workspace with
    deliverables and a review run: every member page with something on it. Returns the
    pages by name (path) and the member."""
    acme = make_company(name="Acme Outdoor Supplies")
    alice = member_with_password(acme, username="alice")
    make_journey(domains=4, steps=5)
    rec_services.recommendations_for(company=acme, present_rows=False)
    rec_services.health_summary_for(company=acme, present_row=False)
    workspace = make_workspace(company=acme, name="Launch plan")
    make_deliverables(workspace=workspace, count=2)
    run = start_run(member=alice, idea="A shared team calendar for field crews " * 3)
    pages = {
        "home": "/",
        "dashboard": f"/companies/{acme.pk}/",
        "workspaces": "/workspaces/",
        "workspace": f"/workspaces/{workspace.pk}/",
        "reviews": "/reviews/",
        "review-run": f"/reviews/runs/{run.pk}/",
        "usage": "/usage/",
    }
    return pages


def _controls_under(page, height: int) -> list[str]:
    """The visible controls shorter than `height` px (links inside running text are
    exempt, as in WCAG's target size rule: only the navigation's and buttons count)."""
    return page.evaluate(
        """h => [...document.querySelectorAll('button, select, input:not([type=hidden]),'
               + ' textarea, summary, nav a, .site a, a.button')]
            .filter(el => el.offsetParent !== null)
            .filter(el => el.getBoundingClientRect().height < h)
            .map(el => el.outerHTML.slice(0, 80))""",
        height,
    )


def _settled(page) -> None:
    """Nothing is left half laid out: fonts and the first round of scripts are done."""
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")


def test_every_member_page_fits_a_phone_and_has_no_serious_axe_violation(
    browser, phone, member_site
):
    widths, problems, small = {}, [], {}
    for window in (phone, browser):
        size = "390" if window is phone else "1280"
        window.goto("/accounts/login/")
        _settled(window.page)
        if window is phone:
            widths["login"] = page_width(window.page)
        problems += [f"login@{size} {v}" for v in axe_violations(window.page)]
        window.screenshot(f"layout-login-{size}")
        window.sign_in("alice")
        for name, path in member_site.items():
            assert window.goto(path).status == 200, name
            _settled(window.page)
            if window is phone:
                widths[name] = page_width(window.page)
            least = TOUCH_TARGET if window is phone else MIN_TARGET
            if tiny := _controls_under(window.page, least):
                small[f"{name}@{size}"] = tiny
            problems += [f"{name}@{size} {v}" for v in axe_violations(window.page)]
            window.screenshot(f"layout-{name}-{size}", full_page=window is browser)
    print("\nwidth at 390px: " + ", ".join(f"{k} {v}" for k, v in widths.items()))
    print(f"axe serious/critical: {len(problems)}\n" + "\n".join(problems))
    assert problems == []
    assert small == {}
    assert {k: v for k, v in widths.items() if v > PHONE["width"]} == {}


def test_the_first_recommendation_is_a_few_tab_presses_away(browser, member_site):
    browser.sign_in("alice")
    page = browser.page
    for viewport in (VIEWPORT, PHONE):
        browser.at(viewport)
        browser.goto(member_site["dashboard"])
        _settled(page)
        presses = tabs_to(page, FIRST_PRIMARY)
        print(f"\nTab presses to the first recommendation at {viewport['width']}: {presses}")
        assert presses is not None and presses <= MAX_TABS
        # The focused control is visibly marked.
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("", "none")


def test_the_dashboard_leads_with_what_to_do_next_above_the_fold_on_a_phone(phone, member_site):
    phone.sign_in("alice")
    page = phone.page
    phone.goto(member_site["dashboard"])
    _settled(page)
    first = page.locator(FIRST_PRIMARY).first
    box = first.bounding_box()
    assert box and box["y"] + box["height"] <= PHONE["height"], box
    next_step = page.locator("#next-step")
    assert next_step.is_visible()
    assert next_step.bounding_box()["y"] < PHONE["height"]
    # Landmarks, the skip link and the current page in the navigation.
    assert page.locator("header").count() == 1
    assert page.locator("nav").count() >= 1
    assert page.locator("main #main").count() == 1
    assert page.locator("a.skip[href='#main']").count() == 1
    assert page.locator("nav [aria-current=page]").inner_text().strip() == "Acme Outdoor Supplies"
    # Content that streams in is announced.
    for region in ("#recommendations", "#insights", "#health"):
        assert page.locator(region).get_attribute("aria-live") == "polite"
    # Touch targets on a phone, the journey's step controls unfolded too.
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert _controls_under(page, TOUCH_TARGET) == []
    assert Generation.objects.exists()  # the page read its content as a member does


def test_a_missing_page_is_branded_and_fits_a_phone(phone, member_site):
    browser = phone
    browser.sign_in("alice")
    page = browser.page
    response = browser.goto("/no-such-page/")
    assert response.status == 404
    _settled(page)
    assert page.title() == "Page not found · Evergreen"
    assert page.locator("header").get_by_text("Evergreen").count() >= 1
    assert page.locator("main a[href='/']").count() == 1
    assert page_width(page) <= PHONE["width"]
    assert axe_violations(page) == []
    browser.screenshot("layout-404-390")
    favicon = page.request.get(browser.url("/favicon.ico"))
    assert favicon.status == 200
    assert page.locator("link[rel=icon]").count() >= 1


def test_a_refused_action_keeps_what_was_typed_and_says_why(browser, member_site):
    browser.sign_in("alice")
    page = browser.page
    browser.goto(member_site["dashboard"])
    card = page.locator("#recommendations article[id^=rec-]").first
    card.get_by_text("Rate this recommendation").click()
    card.locator("select[name=rating]").select_option("4")
    card.locator("input[name=comment]").fill("Useful, but the timing is off")
    # Meanwhile the member's role becomes read-only.
    Membership.objects.filter(user__username="alice").update(role="viewer")

    card.get_by_role("button", name="Send feedback").click()

    card.locator(".confirm.failed").get_by_text("your role in this company").wait_for()
    assert card.locator("input[name=comment]").input_value() == "Useful, but the timing is off"
    assert "Forbidden" not in page.content()
    assert browser.dialogs == []
