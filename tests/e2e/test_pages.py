"""Company members in a real browser: sign in, every page, controls in place, streamed
text without a reload, reviews landing live, model output that executes nothing, and
another company's pages answering 404. Screenshots (1280x800) go to
tests/e2e/screenshots/."""

import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from companies.models import Membership
from deliverables.models import Deliverable, TransformationStatus
from deliverables.services import transform_deliverable
from generation.events import notify_generation
from generation.models import Chunk, Generation, GenerationStatus
from recommendations import services as rec_services
from recommendations.models import Recommendation
from reviews.lifecycle import RunStatus
from reviews.models import Run
from tests.builders import make_company, make_member
from tests.deliverables.builders import make_deliverables, make_workspace
from tests.e2e.conftest import PASSWORD
from tests.processes import qcluster, wait_until
from tests.recommendations.builders import make_journey, make_recommendation
from tests.reviews.builders import start_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

XSS = (
    "**Bold** <script>alert('script')</script> <img src=x onerror=alert('onerror')> "
    "[click me](javascript:alert('href')) <a href=\"javascript:alert('a')\">link</a> "
    "<svg onload=alert('svg')></svg>"
)


def member_with_password(company, *, role: str = "editor", username: str | None = None):
    membership = make_member(company=company, role=role, username=username)
    membership.user.set_password(PASSWORD)
    membership.user.save()
    return membership


@pytest.fixture
def acme(transactional_db):
    return make_company(name="Acme")


@pytest.fixture
def globex(transactional_db):
    return make_company(name="Globex")


@pytest.fixture
def alice(acme):
    return member_with_password(acme, username="alice")


@pytest.fixture
def journey(transactional_db):
    return make_journey(domains=2, steps=3)


def _streaming_generation(company, *, kind: str = "health_summary") -> Generation:
    """A generation of the company that is being written by someone else (a lease far
    ahead: nobody takes it over), as a page finds it while it streams."""
    return Generation.objects.create(
        kind=kind,
        scope=f"company:{company.pk}",
        context_hash=uuid.uuid4().hex,
        company=company,
        stream=True,
        status=GenerationStatus.STREAMING,
        owner="e2e-writer",
        lease_expires_at=timezone.now() + timezone.timedelta(minutes=10),
    )


def _write_chunk(generation: Generation, seq: int, piece: str) -> None:
    """What generation.streams does per flush: a chunk, the text so far, a notify."""
    with transaction.atomic():
        Chunk.objects.create(generation=generation, seq=seq, text=piece)
        Generation.objects.filter(pk=generation.pk).update(
            text=Concat(F("text"), Value(piece)), updated_at=timezone.now()
        )
        transaction.on_commit(lambda: notify_generation(generation.pk))


def _written(company) -> None:
    """The company's content, written as the background work writes it."""
    rec_services.recommendations_for(company=company, present_rows=False)
    rec_services.health_summary_for(company=company, present_row=False)


def _finish(generation: Generation) -> None:
    with transaction.atomic():
        Generation.objects.filter(pk=generation.pk).update(
            status=GenerationStatus.COMPLETED,
            result={"done": True},
            completed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        transaction.on_commit(lambda: notify_generation(generation.pk))


def test_a_member_signs_in_and_opens_every_page(browser, alice, acme, journey):
    page = browser.page
    page.goto(browser.url(f"/companies/{acme.pk}/"))
    assert "/accounts/login/" in page.url  # the project's page, not the admin's
    assert page.title() == "Sign in · Evergreen"
    assert "Django administration" not in page.content()
    browser.screenshot("01-sign-in")

    browser.sign_in("alice")
    assert page.locator("header").get_by_text("alice").count() == 1
    assert page.locator("#admin-link").count() == 0  # not staff
    browser.screenshot("02-home")
    _written(acme)

    response = browser.goto(f"/companies/{acme.pk}/")
    assert response.status == 200
    for section in ("#journey", "#recommendations", "#insights", "#health"):
        assert page.locator(section).is_visible()
    assert page.locator("#recommendations article").count() >= 1
    assert page.locator("#recommendations .state").first.inner_text().strip()
    browser.screenshot("03-dashboard")

    workspace = make_workspace(company=acme, name="Launch plan")
    make_deliverables(workspace=workspace, count=2)
    assert browser.goto("/workspaces/").status == 200
    browser.screenshot("04-workspaces")
    assert browser.goto(f"/workspaces/{workspace.pk}/").status == 200
    browser.screenshot("05-workspace")

    assert browser.goto("/reviews/").status == 200
    browser.screenshot("06-reviews")

    assert browser.goto("/usage/").status == 200
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the usage page is {width}px wide"
    assert page.locator("svg[role=img]").count() == 5
    browser.screenshot("07-usage")
    page.locator("#chart-tokens").scroll_into_view_if_needed()
    browser.screenshot("08-usage-charts")

    page.click("text=Sign out")
    page.wait_for_url("**/accounts/login/")
    assert browser.goto(f"/companies/{acme.pk}/").url.endswith(
        f"/accounts/login/?next=/companies/{acme.pk}/"
    )
    assert browser.dialogs == []


def test_staff_see_the_admin_link_and_members_of_several_companies_pick_one(
    browser, alice, acme, globex
):
    Membership.objects.create(user=alice.user, company=globex, role="viewer")
    alice.user.is_staff = True
    alice.user.save()
    browser.sign_in("alice")
    page = browser.page
    assert page.locator("#admin-link").is_visible()
    page.select_option("#nav-company", str(globex.pk))  # opens on change
    page.wait_for_url(browser.url(f"/companies/{globex.pk}/"))
    assert page.locator("h1").inner_text() == "Globex"


def test_streamed_text_arrives_without_a_reload(browser, alice, acme, journey):
    browser.sign_in("alice")
    browser.goto(f"/companies/{acme.pk}/")  # claims what is missing; no cluster runs here
    generation = Generation.objects.get(kind="health_summary", company=acme)
    page = browser.page
    browser.mark()
    stream = page.locator(f"#live-{generation.pk} [data-stream]")
    assert stream.count() == 1

    # Written the way the background task writes it (generation.streams).
    pieces = ["Cash flow is ", "steady; ", XSS, " hiring is the risk."]
    for seq, piece in enumerate(pieces):
        _write_chunk(generation, seq, piece)
        page.wait_for_function(
            "([sel, text]) => document.querySelector(sel).textContent.includes(text)",
            arg=[f"#live-{generation.pk} [data-stream]", piece],
        )
    assert stream.inner_text() == "".join(pieces)  # as text: the payload is inert
    assert page.locator(f"#live-{generation.pk} script").count() == 0
    browser.screenshot("09-dashboard-streaming")

    _finish(generation)
    page.locator(f"#live-{generation.pk}").wait_for(state="detached")
    assert browser.not_reloaded()
    assert browser.dialogs == []


def test_start_and_complete_a_recommendation_and_set_a_step_in_place(browser, alice, acme, journey):
    _written(acme)
    browser.sign_in("alice")
    page = browser.page
    browser.goto(f"/companies/{acme.pk}/")
    browser.mark()
    first = page.locator("#recommendations article").first
    rec_id = int(first.get_attribute("id").removeprefix("rec-"))
    card = page.locator(f"#rec-{rec_id}")
    assert "Not started" in card.inner_text()

    card.get_by_role("button", name="Start").click()
    page.wait_for_function(
        "id => document.getElementById(id).innerText.includes('In progress')",
        arg=f"rec-{rec_id}",
    )
    assert Recommendation.objects.get(pk=rec_id).started_at is not None
    # The one in progress comes first.
    assert page.locator("#recommendations article").first.get_attribute("id") == f"rec-{rec_id}"
    browser.screenshot("10-dashboard-started")

    card.get_by_text("Rate this recommendation").click()  # the feedback form unfolds
    card.locator("select[name=rating]").select_option("5")
    card.get_by_role("button", name="Send feedback").click()
    page.locator(f"#rec-{rec_id} .confirm").get_by_text("Thank you for your feedback.").wait_for()
    assert Recommendation.objects.get(pk=rec_id).user_feedback["rating"] == 5

    page.locator(f"#rec-{rec_id}").get_by_role("button", name="Complete").click()
    wait_until(
        lambda: Recommendation.objects.get(pk=rec_id).status == "completed",
        message="not completed",
    )
    # A completed recommendation leaves the current list (its step is done).
    page.wait_for_function(
        "id => !document.getElementById(id)"
        " || document.getElementById(id).innerText.includes('Done')",
        arg=f"rec-{rec_id}",
    )

    # The next step leads the page; one click starts it, in place, and the next
    # click offered is to mark it done. (One step change only: each change makes a new
    # context whose cards are written by a cluster this test does not run, and every
    # card being written holds one of the browser's few connections to the server.)
    step = journey[0]
    assert step.name in page.locator("#next-step").inner_text()
    page.locator("#next-step").get_by_role("button", name="Start").click()
    page.locator(f"#step-{step.pk}").get_by_text("In progress").wait_for()
    page.locator("#next-step").get_by_role("button", name="Mark this step done").wait_for()
    assert page.locator(f"#step-{step.pk} button").inner_text() == "Mark done"
    assert page.locator("#next-step .confirm").inner_text().startswith("Saved:")
    assert browser.not_reloaded()
    assert browser.dialogs == []


def test_a_pending_display_shows_the_source_and_fills_in_live(browser, alice, acme):
    workspace = make_workspace(company=acme, name="Launch plan")
    (deliverable,) = make_deliverables(workspace=workspace, count=1)
    Deliverable.objects.filter(pk=deliverable.pk).update(
        content={"summary": XSS},
        content_transformation_status=TransformationStatus.PENDING,
        transform_lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    browser.sign_in("alice")
    page = browser.page
    browser.goto(f"/workspaces/{workspace.pk}/")
    browser.mark()
    card = page.locator(f"#deliverable-{deliverable.pk}")
    assert card.get_attribute("data-display") == "source"
    assert "this is the source content" in card.inner_text()
    assert "alert('script')" in card.locator(".source").inner_text()  # text, not markup
    browser.screenshot("11-workspace-pending")

    # The display lands, made the way a queued task makes it (offline provider).
    transform_deliverable(deliverable_id=deliverable.pk, force=True)
    page.wait_for_function(
        "id => document.getElementById(id).dataset.display === 'display'",
        arg=f"deliverable-{deliverable.pk}",
    )
    card = page.locator(f"#deliverable-{deliverable.pk}")
    assert "Current display version." in card.inner_text()
    assert card.locator(".display").inner_text().strip()
    assert card.locator("script, [onerror], [onload], a[href^='javascript']").count() == 0
    browser.screenshot("12-workspace-filled")
    assert browser.not_reloaded()
    assert browser.dialogs == []


def test_model_output_with_script_payloads_executes_nothing(browser, alice, acme, journey):
    context = rec_services.current_snapshot(company=acme).context_hash
    for step in journey[:3]:
        make_recommendation(
            company=acme,
            context_hash=context,
            step=step,
            content={
                "title": "<script>alert('title')</script> Plan",
                "summary": XSS,
                "actions": ["<img src=x onerror=alert('action')>", "javascript:alert(1)"],
                "priority": "high",
                "effort": "<b onmouseover=alert('e')>low</b>",
            },
        )
    browser.sign_in("alice")
    page = browser.page
    browser.goto(f"/companies/{acme.pk}/")
    assert "Bold" in page.locator("#recommendations").inner_text()
    assert (
        page.locator(
            "#recommendations script, #recommendations [onerror], "
            "#recommendations [onload], #recommendations a[href^='javascript']"
        ).count()
        == 0
    )
    links = page.locator("#recommendations a")
    for index in range(links.count()):
        links.nth(index).click(no_wait_after=True)
    page.mouse.move(10, 10)
    page.locator("#recommendations").hover()
    time.sleep(0.5)
    browser.screenshot("13-dashboard-payloads")
    assert browser.dialogs == []


def test_submit_an_idea_and_watch_the_reviews_land(fake_openai, browser, alice, acme):
    # Every model call takes a moment and the reviewers work one at a time, so the
    # run is watched while it happens.
    fake_openai.delay(1.0, times=None)
    with qcluster(EVERGREEN_MODE="development", Q_WORKERS="1", REVIEWS_MAX_CONCURRENCY="1"):
        browser.sign_in("alice")
        page = browser.page
        browser.goto("/reviews/")
        page.fill("textarea[name=idea]", "A shared team calendar <script>alert('idea')</script>")
        page.get_by_role("button", name="Review it").click()
        page.wait_for_url("**/reviews/runs/**")
        run = Run.objects.get(company=acme)
        browser.mark()
        assert "The reviewers are at work" in page.locator("#run-state").inner_text()
        page.locator("#reviews > div").first.wait_for(timeout=60_000)
        # A review has landed in place while the others are still being written.
        assert "at work" in page.locator("#run-state").inner_text()
        assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
        browser.screenshot("14-review-run-live")
        page.wait_for_function(
            "() => !document.getElementById('decision').innerText.includes('Not decided')",
            timeout=90_000,
        )
        wait_until(
            lambda: Run.objects.get(pk=run.pk).status != RunStatus.RUNNING,
            timeout=60,
            message="the run did not end",
        )
    page.wait_for_function(
        "() => !document.getElementById('run-state').innerText.includes('at work')"
    )
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert page.locator("#reviews .review").count() == run.reviews.count() >= 1
    assert "weighted confidence" in page.locator("#decision").inner_text()
    assert browser.not_reloaded()
    browser.screenshot("15-review-run-decided")
    browser.goto("/reviews/")
    assert page.locator("table a").count() == 1
    assert browser.dialogs == []


def test_a_member_of_one_company_gets_404_for_every_page_of_another(
    browser, alice, acme, globex, journey
):
    bob = member_with_password(globex, username="bob")
    their_workspace = make_workspace(company=globex, name="Secret")
    their_run = start_run(member=bob, idea="Their idea")
    their_generation = _streaming_generation(globex)
    their_rec = make_recommendation(company=globex, context_hash="0" * 64, step=journey[0])
    browser.sign_in("alice")
    page = browser.page
    for path in (
        f"/companies/{globex.pk}/",
        f"/companies/open/?company={globex.pk}",
        f"/workspaces/{their_workspace.pk}/",
        f"/reviews/runs/{their_run.pk}/",
        f"/api/generations/{their_generation.pk}/events",
        f"/api/reviews/runs/{their_run.pk}/events",
    ):
        assert browser.goto(path).status == 404, path
    assert "Secret" not in browser.goto("/workspaces/").text()
    assert "Their idea" not in browser.goto("/reviews/").text()

    csrf = next(c["value"] for c in browser.context.cookies() if c["name"] == "csrftoken")
    for path in (
        f"/companies/{globex.pk}/recommendations/{their_rec.pk}/start/",
        f"/companies/{globex.pk}/recommendations/{their_rec.pk}/complete/",
        f"/companies/{globex.pk}/recommendations/{their_rec.pk}/feedback/",
        f"/companies/{globex.pk}/steps/{journey[0].pk}/progress/",
        f"/companies/{acme.pk}/recommendations/{their_rec.pk}/start/",
    ):
        response = page.request.post(
            browser.url(path),
            form={"csrfmiddlewaretoken": csrf, "rating": "3", "status": "completed"},
            max_redirects=0,
        )
        assert response.status == 404, path
    assert browser.dialogs == []
