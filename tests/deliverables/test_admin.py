"""Admin: a cleaned preview, re-transform and clear display."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_q.models import OrmQ

from deliverables.models import Deliverable, TransformationStatus
from deliverables.services import TASK
from tests.deliverables.builders import give_current_displays, list_url, make_deliverables

CHANGELIST = "/admin/deliverables/deliverable/"


@pytest.fixture
def admin_client(db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _act(client, action: str, deliverables) -> None:
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [d.pk for d in deliverables]},
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_the_admin_preview_shows_the_display_cleaned(admin_client, workspace):
    [deliverable] = make_deliverables(workspace=workspace, count=1)
    give_current_displays(
        workspace=workspace, html='<p>Shown</p><script>alert(1)</script><img onerror="x()">'
    )

    page = admin_client.get(f"{CHANGELIST}{deliverable.pk}/change/").content.decode()
    listing = admin_client.get(CHANGELIST, {"content_transformation_status": "success"})

    assert "<p>Shown</p>" in page
    assert "<script>alert(1)" not in page
    assert 'onerror="x()"' not in page
    assert listing.status_code == 200
    assert deliverable.title in listing.content.decode()


@pytest.mark.django_db
def test_retransform_queues_one_task_per_deliverable(
    admin_client, workspace, django_capture_on_commit_callbacks
):
    deliverables = make_deliverables(workspace=workspace, count=2)
    give_current_displays(workspace=workspace)

    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "retransform", deliverables)
        _act(admin_client, "retransform", deliverables)  # already queued: not again

    packages = [q.task for q in OrmQ.objects.all()]
    assert sorted(p["args"][0] for p in packages) == [d.pk for d in deliverables]
    assert all(p["func"] == TASK for p in packages)
    assert set(Deliverable.objects.values_list("content_transformation_status", flat=True)) == {
        TransformationStatus.PENDING
    }


@pytest.mark.django_db(transaction=True)
def test_a_cleared_display_comes_back_from_the_stored_generation_without_a_call(
    admin_client, api, workspace, provider
):
    deliverables = make_deliverables(workspace=workspace, count=2)
    first = api.get(list_url(workspace)).json()["results"]
    assert provider.calls == 2

    _act(admin_client, "clear_display", deliverables[:1])
    cleared = Deliverable.objects.get(pk=deliverables[0].pk)
    assert cleared.display_content == ""
    assert cleared.content_transformation_status == TransformationStatus.NONE

    again = api.get(list_url(workspace)).json()
    assert provider.calls == 2
    assert again["results"][0]["display_content"] == first[0]["display_content"]
    assert again["meta"]["cache"]["cached"] == 2


def test_the_display_prompt_version_is_a_column_and_a_filter(admin_client, workspace):
    from generation.prompts import new_version_from
    from tests.builders import make_prompt

    v1 = make_prompt(key="display-curation")
    v2 = new_version_from(prompt=v1)
    mine, other = make_deliverables(workspace=workspace, count=2)
    Deliverable.objects.filter(pk=mine.pk).update(display_prompt=v1)
    Deliverable.objects.filter(pk=other.pk).update(display_prompt=v2)

    page = admin_client.get(CHANGELIST).content.decode()
    filtered = admin_client.get(CHANGELIST, {"display_prompt__id__exact": v1.pk})

    assert "column-display_prompt" in page
    assert "display-curation v1" in page and "display-curation v2" in page
    assert [d.pk for d in filtered.context["cl"].result_list] == [mine.pk]
