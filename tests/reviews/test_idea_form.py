"""The idea form offers only the companies where the member may act, and a refused
submission is the page again with the typed idea and the reason, never a bare 403."""

import pytest

from companies.models import Membership
from reviews.models import Run
from tests.builders import make_company, make_member

pytestmark = pytest.mark.django_db


def _offered(page: str) -> list[str]:
    """The company ids the form would post: the choices, or the one fixed company."""
    form = page.split('id="submit-title"', 1)[1].split("</form>", 1)[0]
    if 'name="company" id="idea-company"' in form:
        select = form.split('id="idea-company">', 1)[1].split("</select>", 1)[0]
        return [part.split('"', 1)[0] for part in select.split('<option value="')[1:]]
    if 'name="company" value="' in form:
        return [form.split('name="company" value="', 1)[1].split('"', 1)[0]]
    return []


def test_the_form_offers_only_companies_where_the_member_may_act(client, member):
    readable = make_company(name="Aardvark Read Only")
    Membership.objects.create(user=member.user, company=readable, role="viewer")
    editable = make_company(name="Zebra Editors")
    Membership.objects.create(user=member.user, company=editable, role="admin")
    client.force_login(member.user)

    page = client.get("/reviews/").content.decode()

    assert _offered(page) == [str(member.company.pk), str(editable.pk)]
    assert "Aardvark Read Only" not in page.split('id="submit-title"', 1)[1].split("</form>")[0]


def test_a_viewer_is_told_they_cannot_submit_instead_of_being_offered_the_form(client, company):
    viewer = make_member(company=company, role="viewer")
    client.force_login(viewer.user)

    page = client.get("/reviews/").content.decode()

    assert _offered(page) == []
    assert '<textarea name="idea"' not in page
    assert "needs an editor or admin role" in page


def test_a_refused_submission_keeps_the_idea_and_says_why(client, company):
    viewer = make_member(company=company, role="viewer")
    client.force_login(viewer.user)

    response = client.post(
        "/reviews/", {"company": company.pk, "idea": "Referral bonus <b>for crews</b>"}
    )

    page = response.content.decode()
    assert response.status_code == 403
    assert "Forbidden" not in page
    assert "that needs an editor or admin role" in page  # why, in words
    assert "Referral bonus &lt;b&gt;for crews&lt;/b&gt;" in page  # kept, escaped
    assert 'role="alert"' in page
    assert Run.objects.count() == 0


def test_an_editor_who_picks_a_read_only_company_keeps_the_idea_in_the_form(
    client, member, company
):
    readable = make_company(name="Read Only Co")
    Membership.objects.create(user=member.user, company=readable, role="viewer")
    client.force_login(member.user)

    response = client.post("/reviews/", {"company": readable.pk, "idea": "Shared calendar"})

    page = response.content.decode()
    assert response.status_code == 403
    form = page.split('id="submit-title"', 1)[1].split("</form>", 1)[0]
    assert ">Shared calendar</textarea>" in form  # ready to send for another company
    assert _offered(page) == [str(member.company.pk)]
    assert Run.objects.count() == 0


def test_a_company_that_is_not_yours_or_no_idea_is_a_400_with_the_form(
    client, member, other_company
):
    client.force_login(member.user)

    stranger = client.post("/reviews/", {"company": other_company.pk, "idea": "Theirs"})
    empty = client.post("/reviews/", {"company": member.company.pk, "idea": "  "})
    huge = client.post("/reviews/", {"company": "9" * 40, "idea": "An idea"})

    assert stranger.status_code == empty.status_code == huge.status_code == 400
    assert "Choose one of your companies and describe the idea." in stranger.content.decode()
    assert ">An idea</textarea>" in huge.content.decode()
    assert Run.objects.count() == 0
