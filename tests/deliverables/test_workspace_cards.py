"""The workspace page's own refreshes: the card fragment its script fetches when a
display lands shows the cards as they stand, transforms and queues nothing and counts
no cache hit; a pending card shows its source as readable text, never as JSON."""

import pytest
from django.test import Client

from deliverables.models import Deliverable, TransformationStatus
from deliverables.services import clear_display
from generation.writebehind import flush_now
from tests.builders import make_member
from tests.deliverables.builders import (
    give_current_displays,
    make_deliverables,
    make_workspace,
    mark_queued,
)


@pytest.fixture
def browser(member):
    client = Client()
    client.force_login(member.user)
    return client


def cards_url(workspace, *deliverables) -> str:
    return f"/workspaces/{workspace.pk}/cards?ids={','.join(str(d.pk) for d in deliverables)}"


def calls_saved(browser) -> int:
    flush_now()  # hits are written by the process's next flush
    return browser.get("/api/usage/").json()["totals"]["calls_saved"]


@pytest.mark.django_db
def test_the_fragment_shows_the_requested_cards_as_they_stand(browser, workspace, provider):
    ready, waiting, other = make_deliverables(workspace=workspace, count=3)
    give_current_displays(workspace=workspace, html="<p>Ready display</p>")
    clear_display(deliverable_ids=[waiting.pk])
    mark_queued(waiting)

    page = browser.get(cards_url(workspace, ready, waiting)).content.decode()

    assert page.count("<article") == 2
    assert f'id="deliverable-{other.pk}"' not in page
    assert "<p>Ready display</p>" in page
    assert page.count("data-waiting") == 1
    assert "Findings number 2" in page
    assert provider.calls == 0


@pytest.mark.django_db
def test_refreshes_count_no_cache_hit_only_the_page_view_does(browser, workspace, provider):
    deliverables = make_deliverables(workspace=workspace, count=3)
    give_current_displays(workspace=workspace)
    browser.get(f"/workspaces/{workspace.pk}/")
    assert calls_saved(browser) == 3

    for _ in range(5):
        assert browser.get(cards_url(workspace, *deliverables)).status_code == 200

    assert calls_saved(browser) == 3
    assert provider.calls == 0


@pytest.mark.django_db
def test_the_fragment_transforms_and_queues_nothing(browser, workspace, provider):
    (stale,) = make_deliverables(workspace=workspace, count=1)

    page = browser.get(cards_url(workspace, stale)).content.decode()

    assert provider.calls == 0
    assert "could not be made right now" in page
    row = Deliverable.objects.get(pk=stale.pk)
    assert row.content_transformation_status == TransformationStatus.NONE
    assert row.transform_lease_expires_at is None


@pytest.mark.django_db
def test_another_companys_cards_are_not_found_and_other_workspaces_cards_left_out(
    browser, workspace, company, other_company
):
    theirs = make_workspace(company=other_company, name="Theirs")
    (their_deliverable,) = make_deliverables(workspace=theirs, count=1)
    sibling = make_workspace(company=company, name="Sibling")
    (sibling_deliverable,) = make_deliverables(workspace=sibling, count=1)

    assert browser.get(cards_url(theirs, their_deliverable)).status_code == 404
    page = browser.get(cards_url(workspace, sibling_deliverable, their_deliverable))
    assert page.status_code == 200
    assert b"<article" not in page.content
    assert Client().get(cards_url(workspace)).status_code == 302  # to the sign-in page
    assert browser.post(cards_url(workspace)).status_code == 405


@pytest.mark.django_db
def test_a_pending_card_shows_its_source_as_readable_text_not_json(browser, workspace):
    (deliverable,) = make_deliverables(workspace=workspace, count=1)
    mark_queued(deliverable)

    page = browser.get(f"/workspaces/{workspace.pk}/").content.decode()

    assert "this is the source content" in page
    assert "<h3>Summary</h3><p>Findings number 1</p>" in page
    assert "<h3>Points</h3><ul><li>point 1a</li><li>point 1b</li></ul>" in page
    assert '"summary"' not in page and "{" not in page.split('aria-label="Source content"')[1]


@pytest.mark.django_db
def test_a_viewer_may_open_the_fragment_too(workspace, company):
    viewer = Client()
    viewer.force_login(make_member(company=company, role="viewer").user)
    assert viewer.get(cards_url(workspace)).status_code == 200
