"""Browser tests: Playwright for Python driving Debian's chromium (no browser download)
against a real uvicorn server on the test database.

The server and any cluster are started before the browser: Playwright's sync API runs
an event loop in this thread, so Django's async-safety check is lifted here (only in
the test process, after the children have their environment)."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from tests.builders import restore_migrated_rows
from tests.processes import ROOT
from tests.servers import Server, asgi_server, collect_static

CHROMIUM = os.environ.get("EVERGREEN_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
# An ordinary phone held upright: every member page must fit it without sideways scroll.
PHONE = {"width": 390, "height": 844}
# The axe-core impacts a page may not have at all.
BLOCKING_IMPACTS = ("serious", "critical")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-long-test-password"


def pytest_collection_modifyitems(config, items):
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (bin/test installs it)")
        for item in items:
            if "tests/e2e/" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def collected_static(django_db_setup) -> None:
    """The server serves static files from STATIC_ROOT, as in production (bin/run);
    collected once per test run, shared with every other server test."""
    collect_static()


@pytest.fixture
def content_prompts(transactional_db) -> None:
    restore_migrated_rows()


@pytest.fixture
def server(collected_static, content_prompts, transactional_db) -> Iterator[Server]:
    with asgi_server(EVERGREEN_MODE="development", Q_WORKERS="2") as running:
        yield running


class Browser:
    """One fresh Chromium profile for one test; counts every dialog (alert, confirm,
    prompt) any page opens: model output must never open one."""

    def __init__(self, context, base_url: str) -> None:
        self.context = context
        self.base_url = base_url
        self.dialogs: list[str] = []
        self.page = context.pages[0] if context.pages else context.new_page()
        self.watch(self.page)

    def watch(self, page) -> None:
        def on_dialog(dialog) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def new_page(self):
        page = self.context.new_page()
        self.watch(page)
        return page

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def goto(self, path: str, page=None):
        return (page or self.page).goto(self.url(path))

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        page = self.page
        page.goto(self.url("/accounts/login/"))
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(self.url("/"))

    def screenshot(self, name: str, page=None, *, full_page: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=full_page)
        return path

    def at(self, viewport: dict, page=None) -> None:
        """Resize the window (VIEWPORT, PHONE): the page lays itself out again."""
        (page or self.page).set_viewport_size(viewport)

    def mark(self, page=None) -> None:
        """A marker that a reload would wipe: its presence later proves no reload."""
        (page or self.page).evaluate("window.__noReload = true")

    def not_reloaded(self, page=None) -> bool:
        return bool((page or self.page).evaluate("window.__noReload === true"))


def page_width(page) -> int:
    """How wide the document is laid out: more than the window means sideways scroll."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
    )


def axe_violations(page, impacts=BLOCKING_IMPACTS) -> list[str]:
    """axe-core's violations of the given impacts on the page as it is now, one line each:
    rule (impact) and the first few elements, readable in an assertion message."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): " + "; ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in found
        if v["impact"] in impacts
    ]


def tabs_to(page, selector: str, limit: int = 60) -> int | None:
    """How many Tab presses from the top of the page reach the first element matching
    `selector` (None: not within `limit`)."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return presses
    return None


class Chromium:
    """Playwright's chromium for one test: each launch is a fresh profile, closed (and
    its profile removed) when the test ends, whatever the outcome."""

    def __init__(self, playwright) -> None:
        self.playwright = playwright
        self.contexts: list = []
        self.profiles: list[str] = []

    def launch(self, viewport: dict, **options):
        profile = tempfile.mkdtemp(prefix="evergreen-chromium-")
        self.profiles.append(profile)
        context = self.playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=viewport,
            **options,
        )
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        return context

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        for profile in self.profiles:
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def chromium(server, monkeypatch) -> Iterator[Chromium]:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        running = Chromium(playwright)
        try:
            yield running
        finally:
            running.close()
            # ORM calls made while Playwright's loop runs get their own connection
            # (another context): close it, or the test database cannot be dropped.
            connections.close_all()


@pytest.fixture
def browser(chromium, server) -> Browser:
    """A desktop window (VIEWPORT)."""
    return Browser(chromium.launch(VIEWPORT), server.url)


@pytest.fixture
def phone(chromium, server) -> Browser:
    """A phone held upright (PHONE): touch, and the page's viewport tag honoured as a
    phone honours it, so a page without one is laid out 980px wide as on a phone."""
    return Browser(
        chromium.launch(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2),
        server.url,
    )
