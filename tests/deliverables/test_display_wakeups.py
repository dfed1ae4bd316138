"""What the workspace page's event stream reads and what wakes it: each writer of a
display wakes the workspace's streams after its commit, and the states it reads
decide a card as the page does."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deliverables.models import Deliverable, TransformationStatus
from deliverables.services import clear_display, transform_deliverable
from deliverables.services.live import DisplayState, display_states
from generation.errors import ProviderError
from generation.models import Generation, GenerationStatus
from tests.deliverables.builders import (
    give_current_displays,
    make_deliverables,
    make_workspace,
    mark_queued,
)


@pytest.mark.django_db
def test_every_writer_of_a_display_wakes_the_workspace_streams(
    workspace, provider, monkeypatch, django_capture_on_commit_callbacks
):
    woken: list[str] = []
    monkeypatch.setattr("deliverables.services.wakeups.notify", woken.append)
    made, failed, skipped = make_deliverables(workspace=workspace, count=3)
    key = f"workspace:{workspace.pk}"

    with django_capture_on_commit_callbacks(execute=True):
        transform_deliverable(deliverable_id=made.pk)
    assert woken == [key]

    provider.fail_with = ProviderError("model is down", transient=False)
    with django_capture_on_commit_callbacks(execute=True):
        transform_deliverable(deliverable_id=failed.pk)
    assert woken == [key, key]
    assert Deliverable.objects.get(pk=failed.pk).content_transformation_status == "failed"

    provider.fail_with = None
    give_current_displays(workspace=workspace)
    mark_queued(skipped)
    with django_capture_on_commit_callbacks(execute=True):
        transform_deliverable(deliverable_id=skipped.pk)  # current already: claim given back
    assert woken == [key, key, key]


@pytest.mark.django_db
def test_a_wake_up_waits_for_the_commit(workspace, provider, monkeypatch):
    woken: list[str] = []
    monkeypatch.setattr("deliverables.services.wakeups.notify", woken.append)
    (deliverable,) = make_deliverables(workspace=workspace, count=1)

    transform_deliverable(deliverable_id=deliverable.pk)  # inside the test's transaction

    assert woken == []


@pytest.mark.django_db
def test_states_are_decided_as_the_page_decides_its_cards(
    workspace, company, django_assert_max_num_queries
):
    current, queued, lost, failed, made_now, never, draft = make_deliverables(
        workspace=workspace, count=7
    )
    give_current_displays(workspace=workspace)
    clear_display(deliverable_ids=[queued.pk, lost.pk, failed.pk, made_now.pk, never.pk, draft.pk])
    mark_queued(queued)
    mark_queued(lost, minutes=-1)  # its task was lost: the claim ran out
    Deliverable.objects.filter(pk__in=[failed.pk, made_now.pk]).update(
        content_transformation_status=TransformationStatus.FAILED
    )
    # Made again right now by a request's worker thread, over the earlier failure.
    Generation.objects.create(
        kind="deliverable_display",
        scope=f"deliverable:{made_now.pk}",
        context_hash="a" * 64,
        company=company,
        status=GenerationStatus.PENDING,
        lease_expires_at=timezone.now() + timedelta(minutes=1),
    )
    Deliverable.objects.filter(pk=draft.pk).update(status="draft")
    (elsewhere,) = make_deliverables(workspace=make_workspace(company=company), count=1)
    ids = [d.pk for d in (current, queued, lost, failed, made_now, never, draft, elsewhere)]

    with django_assert_max_num_queries(2):
        states = display_states(workspace_id=workspace.pk, ids=ids)

    assert states == {
        current.pk: DisplayState.CURRENT,
        queued.pk: DisplayState.PENDING,
        lost.pk: DisplayState.NONE,
        failed.pk: DisplayState.FAILED,
        made_now.pk: DisplayState.PENDING,
        never.pk: DisplayState.NONE,
        draft.pk: DisplayState.NONE,
        elsewhere.pk: DisplayState.GONE,
    }
    assert display_states(workspace_id=workspace.pk, ids=[]) == {}
