"""The review run page in a real browser while the run happens: the proposal streams as
readable text (never JSON punctuation), reviewer progress counts up, the decision lands
in the first screen; a failed run says what failed in plain words and Retry starts the
same idea again. Screenshots (1280x800 and 390x844) go to tests/e2e/screenshots/."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import Generation, GenerationStatus
from generation.public import MESSAGES
from reviews.lifecycle import RunStatus
from reviews.models import Run
from tests.e2e.conftest import PASSWORD
from tests.processes import qcluster, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Every render of the proposal, recorded in the page itself (a MutationObserver), so no
# state between two samples of the test goes unseen; the region is replaced when the
# proposal is stored, so the whole page is observed.
RECORD_PROPOSAL = """() => {
  window.__proposal = [];
  const sample = () => {
    const node = document.getElementById("proposal-text");
    const text = node ? node.textContent : "";
    const seen = window.__proposal;
    if (!seen.length || seen[seen.length - 1] !== text) { seen.push(text); }
  };
  sample();
  new MutationObserver(sample).observe(document.body, {
    childList: true, subtree: true, characterData: true,
  });
}"""


def _has_json(text: str) -> bool:
    return "{" in text or '":' in text


@pytest.fixture
def alice(transactional_db):
    from tests.builders import make_company, make_member

    membership = make_member(company=make_company(name="Acme"), username="alice")
    membership.user.set_password(PASSWORD)
    membership.user.save()
    return membership


def _submit(browser, idea: str) -> Run:
    page = browser.page
    browser.goto("/reviews/")
    page.fill("textarea[name=idea]", idea)
    page.get_by_role("button", name="Review it").click()
    page.wait_for_url("**/reviews/runs/**")
    return Run.objects.get(input_idea=idea)


def test_the_run_page_reads_like_a_document_while_the_run_happens(fake_openai, browser, alice):
    # The proposal streams for a few seconds; each review takes a moment, one at a time.
    fake_openai.pace(0.05).delay(1.0, times=None)
    with qcluster(EVERGREEN_MODE="development", Q_WORKERS="1", REVIEWS_MAX_CONCURRENCY="1"):
        browser.sign_in("alice")
        page = browser.page
        began = time.monotonic()
        run = _submit(browser, "A shared team calendar")
        browser.mark()
        page.evaluate(RECORD_PROPOSAL)

        # The proposal as readable text while it streams, sampled from here as well.
        samples = []
        page.locator("#proposal-text .readable-label").first.wait_for(timeout=30_000)
        first_text = time.monotonic() - began
        browser.screenshot("review-run-streaming-1280")

        # A page opened now shows the text so far, readable, before any script runs.
        other = browser.new_page()
        other.set_viewport_size(PHONE)
        html = browser.context.request.get(browser.url(f"/reviews/runs/{run.pk}/")).text()
        so_far = html.split('id="proposal-text">')[1].split("</div>\n")[0]
        assert "readable-label" in so_far and not _has_json(so_far)
        browser.goto(f"/reviews/runs/{run.pk}/", page=other)
        browser.screenshot("review-run-streaming-390", page=other)
        other.close()

        while not page.locator("#reviews .review").count():
            samples.append(page.locator("#proposal-text").inner_text())
            time.sleep(0.05)
            assert time.monotonic() - began < 60, "no review landed"
        rendered = page.evaluate("window.__proposal")
        assert [s for s in samples + rendered if _has_json(s)] == []
        streamed = {s for s in rendered if "Title" in s}
        assert len(streamed) >= 5, f"the proposal did not stream: {len(streamed)} renders"

        # Reviewer progress, live.
        page.wait_for_function(
            "() => /^[1-4] of 5 reviews$/.test(document.getElementById('progress').innerText)"
        )
        progress = time.monotonic() - began
        assert "at work" in page.locator("#run-state").inner_text()
        assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
        browser.screenshot("review-run-reviews-1280")
        events = int(page.locator("#timeline-count").inner_text())
        page.locator("#timeline summary").click()  # the timeline unfolds, and grows live

        verdict = page.locator("#decision .verdict-label")
        verdict.wait_for(timeout=90_000)
        decided = time.monotonic() - began
        wait_until(lambda: Run.objects.get(pk=run.pk).status != RunStatus.RUNNING, timeout=30)

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert page.locator("#progress").inner_text() == "5 of 5 reviews"
    assert int(page.locator("#timeline-count").inner_text()) > events
    assert "Review written" in page.locator("#timeline").inner_text()
    percent = round(run.overall_weighted_confidence * 100)
    assert f"{percent}% weighted confidence" in page.locator("#decision").inner_text()
    assert verdict.inner_text() == run.decision_label.capitalize()
    assert run.decision_label in page.locator("#outcome").get_attribute("class")
    page.evaluate("window.scrollTo(0, 0)")
    top = verdict.bounding_box()["y"]
    assert top < DESKTOP["height"]
    assert browser.not_reloaded()
    browser.screenshot("review-run-decided-1280")
    page.locator("#timeline").scroll_into_view_if_needed()
    browser.screenshot("review-run-timeline-1280")
    page.set_viewport_size(PHONE)
    page.evaluate("window.scrollTo(0, 0)")
    phone_top = verdict.bounding_box()["y"]
    assert phone_top < PHONE["height"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the run page is {width}px wide on a phone"
    browser.screenshot("review-run-decided-390")
    print(
        f"\nreadable proposal text after {first_text:.1f} s, reviewer progress after"
        f" {progress:.1f} s, decision after {decided:.1f} s; {len(rendered)} proposal renders,"
        f" {len(samples)} samples, none with JSON punctuation; decision top at {top:.0f} px"
        f" (1280x800) and {phone_top:.0f} px (390x844)"
    )
    assert browser.dialogs == []


def test_a_failed_run_says_what_failed_and_retry_starts_it_again(fake_openai, browser, alice):
    fake_openai.fail(503, times=None)  # the model service is down
    with qcluster(EVERGREEN_MODE="development", Q_WORKERS="1"):
        browser.sign_in("alice")
        page = browser.page
        run = _submit(browser, "Referral bonus")
        browser.mark()
        page.locator("#outcome.failed").wait_for(timeout=60_000)
        outcome = page.locator("#outcome").inner_text()
        assert f"The proposal could not be written. {MESSAGES['provider_unavailable']}" in outcome
        for private in ("503", "overloaded", "expand", "provider"):
            assert private not in outcome
        assert browser.not_reloaded()
        browser.screenshot("review-run-failed-1280")
        page.set_viewport_size(PHONE)
        browser.screenshot("review-run-failed-390")
        page.set_viewport_size(DESKTOP)

        # The service is back, and the project's failure cooldown for the same request
        # (generation.flight, 30 s) has passed.
        fake_openai.reset()
        Generation.objects.filter(status=GenerationStatus.FAILED).update(
            updated_at=timezone.now() - timedelta(minutes=1)
        )
        page.get_by_role("button", name="Retry").click()
        page.wait_for_url(lambda url: str(run.pk) not in url and "/reviews/runs/" in url)
        again = Run.objects.exclude(pk=run.pk).get()
        assert again.input_idea == "Referral bonus"
        page.locator("#decision .verdict-label").wait_for(timeout=60_000)
    again.refresh_from_db()
    assert again.status == RunStatus.COMPLETED, again.error
    assert browser.dialogs == []
