"""The workspace page in a real browser follows its displays over one event stream:
pending cards are replaced in place as a Django-Q2 cluster makes their displays, an
open tab makes a handful of requests, and neither the tab nor its refreshes move the
usage figures (a cache hit is counted once per page view)."""

import time
from collections.abc import Iterator

import pytest
from django.test import Client

from deliverables.models import Deliverable, TransformationStatus
from deliverables.services import KIND
from tests.deliverables.builders import make_deliverables, make_workspace
from tests.e2e.test_pages import member_with_password
from tests.processes import qcluster, wait_until
from tests.servers import Server, asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# How long an open tab is watched.
WINDOW = 30.0
# The server writes its cache-hit counts every HIT_FLUSH_SECONDS (5 s): wait past one.
FLUSHED = 6.5


@pytest.fixture
def server(collected_static, content_prompts, transactional_db) -> Iterator[Server]:
    """A page view transforms nothing itself: every display is queued for the cluster,
    so the page shows them pending first."""
    with asgi_server(EVERGREEN_MODE="development", AI_TRANSFORM_MAX_BATCH="0") as running:
        yield running


@pytest.fixture
def alice(company):
    return member_with_password(company, role="viewer", username="alice")


def calls_saved(user) -> int:
    """Calls saved by displays on /api/usage/, as the member reads them."""
    client = Client()
    client.force_login(user)
    totals = client.get("/api/usage/", {"kind": KIND}).json()["totals"]
    assert totals["calls_saved"] == totals["cache_hits"]
    return totals["calls_saved"]


def all_current(workspace) -> bool:
    return (
        not Deliverable.objects.filter(workspace=workspace)
        .exclude(content_transformation_status=TransformationStatus.SUCCESS)
        .exists()
    )


def record_requests(page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def test_pending_cards_are_replaced_in_place_when_their_displays_land(browser, alice, company):
    workspace = make_workspace(company=company, name="Launch plan")
    deliverables = make_deliverables(workspace=workspace, count=4)
    browser.sign_in("alice")
    page = browser.new_page()
    requests = record_requests(page)
    browser.goto(f"/workspaces/{workspace.pk}/", page=page)
    browser.mark(page)
    assert page.locator("[data-waiting]").count() == 4
    assert page.locator("#cache-stats [data-stat=pending]").inner_text() == "4"
    first = page.locator(f"#deliverable-{deliverables[0].pk}")
    assert "Findings number 1" in first.locator(".source").inner_text()
    assert "{" not in first.locator(".source").inner_text()  # readable text, not JSON
    browser.screenshot("16-workspace-waiting", page=page)
    started = time.monotonic()

    with qcluster(EVERGREEN_MODE="development", Q_WORKERS="1"):
        page.wait_for_function(
            "() => document.querySelectorAll('[data-waiting]').length === 0", timeout=60_000
        )
    for deliverable in deliverables:
        card = page.locator(f"#deliverable-{deliverable.pk}")
        assert card.get_attribute("data-display") == "display"
        assert "Current display version." in card.inner_text()
    stats = page.locator("#cache-stats")
    assert stats.locator("[data-stat=pending]").inner_text() == "0"
    assert stats.locator("[data-stat=ready]").inner_text() == "4"
    assert browser.not_reloaded(page)
    browser.screenshot("17-workspace-landed", page=page)

    page.wait_for_timeout(max(0.0, WINDOW - (time.monotonic() - started)) * 1000)
    paths = [url.removeprefix(browser.base_url).split("?")[0] for url in requests]
    # The page, its two scripts, one event stream and a few card fetches, no polling.
    assert len(paths) <= 10, paths
    assert paths.count(f"/workspaces/{workspace.pk}/events") == 1, paths
    assert paths.count(f"/workspaces/{workspace.pk}/") == 1, paths
    assert browser.dialogs == []


def test_an_open_tab_makes_a_handful_of_requests_and_moves_no_usage(browser, alice, company):
    workspace = make_workspace(company=company, name="Launch plan")
    make_deliverables(workspace=workspace, count=8)
    browser.sign_in("alice")
    with qcluster(EVERGREEN_MODE="development", Q_WORKERS="2"):
        browser.goto(f"/workspaces/{workspace.pk}/")  # queues every display
        wait_until(lambda: all_current(workspace), timeout=60, message="displays not made")
    browser.page.wait_for_function("() => document.querySelectorAll('[data-waiting]').length === 0")
    browser.page.goto("about:blank")
    time.sleep(FLUSHED)
    # The first view served nothing from the cache; its tab's refreshes count nothing.
    assert calls_saved(alice.user) == 0

    # A tab opened once the displays are done, kept open for the whole window.
    page = browser.new_page()
    requests = record_requests(page)
    started = time.monotonic()
    browser.goto(f"/workspaces/{workspace.pk}/", page=page)
    assert page.locator("[data-display=display]").count() == 8
    page.wait_for_timeout(FLUSHED * 1000)
    assert calls_saved(alice.user) == 8  # the page view: once per cached display
    page.wait_for_timeout(max(0.0, WINDOW - (time.monotonic() - started)) * 1000)
    time.sleep(FLUSHED)

    paths = [url.removeprefix(browser.base_url).split("?")[0] for url in requests]
    assert len(paths) <= 10, paths
    assert f"/workspaces/{workspace.pk}/events" not in paths  # nothing to wait for
    assert calls_saved(alice.user) == 8
    assert browser.dialogs == []
