"""The workspace page: the same cache-first listing, rendered."""

import pytest
from django.test import Client

from tests.deliverables.builders import give_current_displays, make_deliverables, make_workspace


@pytest.fixture
def browser(member):
    client = Client()
    client.force_login(member.user)
    return client


@pytest.mark.django_db
def test_the_workspace_page_shows_displays_and_what_the_cache_saved(browser, workspace, provider):
    make_deliverables(workspace=workspace, count=3)
    give_current_displays(workspace=workspace, html="<p>Quarterly summary</p>")

    page = browser.get(f"/workspaces/{workspace.pk}/").content.decode()

    assert page.count("<p>Quarterly summary</p>") == 3
    assert "3 cached, 0 transformed, 0 queued" in page
    assert "3 model calls saved" in page
    assert provider.calls == 0


@pytest.mark.django_db(transaction=True)
def test_deliverables_past_the_batch_are_shown_as_being_prepared(
    browser, workspace, provider, settings
):
    settings.AI_TRANSFORM_MAX_BATCH = 1
    make_deliverables(workspace=workspace, count=2)

    page = browser.get(f"/workspaces/{workspace.pk}/").content.decode()

    assert provider.calls == 1
    assert "1 queued" in page
    assert "The display version is being prepared" in page
    # Meanwhile its source content is shown, marked as such, and the card waits for its
    # display over the page's one event stream (workspace.js), polled by no timer.
    assert "this is the source content" in page
    assert "Findings number 2" in page
    assert page.count("data-waiting") == 1
    assert "data-poll" not in page and "data-events" not in page  # pages.js: timers, streams
    assert page.count('data-display="source"') == 1
    assert f'data-stream-url="/workspaces/{workspace.pk}/events"' in page


@pytest.mark.django_db
def test_another_companys_workspace_page_is_not_found(browser, other_company):
    theirs = make_workspace(company=other_company, name="Theirs")
    assert browser.get(f"/workspaces/{theirs.pk}/").status_code == 404


@pytest.mark.django_db
def test_the_workspace_list_page_shows_only_my_workspaces(browser, workspace, other_company):
    make_workspace(company=other_company, name="Hidden Globex Space")

    page = browser.get("/workspaces/").content.decode()

    assert workspace.name in page
    assert "Hidden Globex Space" not in page


@pytest.mark.django_db
def test_an_anonymous_visitor_is_sent_to_log_in(client, workspace):
    response = client.get(f"/workspaces/{workspace.pk}/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]
