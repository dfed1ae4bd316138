"""Pages that are not there, not allowed or broken: branded HTML pages that fit a phone
(the site's header, a viewport tag, a way home) outside /api/, the JSON error shape
under it; the 500 page renders with no request and no database; the favicon."""

import pytest
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import path

from core import api

pytestmark = pytest.mark.django_db

VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def refused(request):
    raise PermissionDenied


def crashes(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("refused/", refused),
    path("crashes/", crashes),
    path("api/crashes/", crashes),
]
handler403 = "core.api.permission_denied"
handler404 = "core.api.not_found"
handler500 = "core.api.server_error"


def _branded(page: str, title: str) -> None:
    assert f"<title>{title} · Evergreen</title>" in page
    assert VIEWPORT in page
    assert 'class="site"' in page and "Evergreen</a>" in page  # the site's header
    assert 'href="#main"' in page  # the skip link
    assert 'rel="icon"' in page and 'rel="stylesheet"' in page
    assert '<a class="button primary" href="/">' in page


def test_a_missing_page_is_the_branded_404(client, member):
    client.force_login(member.user)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    _branded(response.content.decode(), "Page not found")


def test_under_the_api_a_missing_page_is_still_json(client):
    response = client.get("/api/no-such-endpoint/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_a_refused_page_is_the_branded_403_saying_why(client, member, settings):
    settings.ROOT_URLCONF = __name__
    client.force_login(member.user)

    response = client.get("/refused/")

    page = response.content.decode()
    assert response.status_code == 403
    _branded(page, "Not allowed")
    assert "editor role" in page
    assert "403 Forbidden" not in page


def test_a_crash_is_the_branded_500_and_json_under_the_api(settings):
    settings.ROOT_URLCONF = __name__
    from django.test import Client

    client = Client(raise_request_exception=False)

    page = client.get("/crashes/")
    api_crash = client.get("/api/crashes/")

    assert page.status_code == 500
    _branded(page.content.decode(), "Something went wrong")
    assert "a bug" not in page.content.decode()
    assert api_crash.status_code == 500
    assert api_crash.json()["error"]["code"] == "server_error"


def test_the_500_page_needs_no_request_and_no_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        page = render_to_string("500.html")
        response = api.server_error(RequestFactory().get("/somewhere/"))

    _branded(page, "Something went wrong")
    assert response.status_code == 500
    assert response.content.decode() == page


def test_a_form_posted_without_its_csrf_token_is_the_branded_page(member):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)

    response = client.post("/reviews/", {"idea": "x"})

    assert response.status_code == 403
    _branded(response.content.decode(), "Form expired")


def test_the_favicon_is_served_where_browsers_look_and_linked_from_every_page(client):
    response = client.get("/favicon.ico")
    login = client.get("/accounts/login/").content.decode()

    assert response.status_code == 302
    icon = response["Location"]
    assert "evergreen/favicon" in icon and icon.endswith(".svg")
    assert f'<link rel="icon" href="{icon}" type="image/svg+xml">' in login


def test_member_pages_mark_the_current_section_in_the_navigation(client, member):
    client.force_login(member.user)

    page = client.get("/reviews/").content.decode()

    nav = page.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert nav.count("aria-current") == 1
    assert 'href="/reviews/" aria-current="page">Reviews' in nav
