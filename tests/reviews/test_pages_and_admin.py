import pytest
from django.contrib.auth import get_user_model

from reviews.models import Persona, Run
from tests.builders import make_member
from tests.reviews.builders import start_run

pytestmark = pytest.mark.django_db


def test_the_run_pages_work_without_javascript(client, member, other_company):
    client.force_login(member.user)
    run = start_run(member=member, idea="Customer health score")

    listing = client.get("/reviews/")
    page = client.get(f"/reviews/runs/{run.pk}/")

    assert listing.status_code == 200
    assert b"Customer health score" in listing.content
    assert b"Metrics" in listing.content
    assert page.status_code == 200
    assert b"Customer health score" in page.content
    assert b"evergreen/run.js" in page.content  # a running run is followed live
    assert b"Run created" in page.content  # the timeline
    stranger = start_run(member=make_member(company=other_company))
    assert client.get(f"/reviews/runs/{stranger.pk}/").status_code == 404


def test_the_form_starts_a_run(client, member):
    client.force_login(member.user)

    response = client.post("/reviews/", {"company": member.company.pk, "idea": "Referral bonus"})

    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/reviews/runs/{run.pk}/"
    assert run.input_idea == "Referral bonus"


def test_admin_shows_runs_read_only_and_personas_with_their_prompts(client, member, personas):
    admin = get_user_model().objects.create_superuser("root", password="x")
    client.force_login(admin)
    run = start_run(member=member)

    change = client.get(f"/admin/reviews/run/{run.pk}/change/")
    persona = client.get(f"/admin/reviews/persona/{Persona.objects.first().pk}/change/")

    assert change.status_code == 200
    assert b"run_created" in change.content
    assert b'name="_save"' not in change.content
    assert client.get("/admin/reviews/run/").status_code == 200
    assert persona.status_code == 200
    assert b"review-persona-architect v1" in persona.content
    assert len(personas) >= 5
