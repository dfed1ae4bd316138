"""Past the batch, deliverables are queued as Django-Q2 tasks, once each."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from deliverables import tasks
from deliverables.models import Deliverable, TransformationStatus
from deliverables.services import KIND, TASK, queue_transforms
from generation.models import GenerationLog
from generation.prompts import new_version_from
from tests.deliverables.builders import list_url, make_deliverables
from tests.processes import qcluster, wait_until

pytestmark = pytest.mark.usefixtures("transform_threads_finish")


def _queued_ids() -> list[int]:
    packages = [q.task for q in OrmQ.objects.all()]
    assert all(p["func"] == TASK for p in packages)
    return sorted(p["args"][0] for p in packages)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_seventeen_deliverables_transform_five_queue_twelve_then_serve_all_with_no_call(
    api, workspace, provider, settings
):
    settings.AI_TRANSFORM_MAX_BATCH = 5
    deliverables = make_deliverables(workspace=workspace, count=17)

    first = api.get(list_url(workspace))

    assert first.status_code == 200
    assert provider.calls == 5
    cache = first.json()["meta"]["cache"]
    assert (cache["transformed"], cache["queued"], cache["pending"]) == (5, 12, 12)
    statuses = [row["content_transformation_status"] for row in first.json()["results"]]
    assert statuses == ["success"] * 5 + ["pending"] * 12
    assert _queued_ids() == [d.pk for d in deliverables[5:]]

    # Read again before the queue drains: nothing is queued twice, nothing transformed.
    second = api.get(list_url(workspace))
    assert second.json()["meta"]["cache"]["queued"] == 0
    assert second.json()["meta"]["cache"]["pending"] == 12
    assert OrmQ.objects.count() == 12
    assert provider.calls == 5

    with qcluster(EVERGREEN_PROVIDER="offline"):
        wait_until(
            lambda: (
                Deliverable.objects.filter(
                    workspace=workspace, content_transformation_status=TransformationStatus.SUCCESS
                ).count()
                == 17
            ),
            timeout=60,
            message="the queue did not drain",
        )

    drained = api.get(list_url(workspace))
    assert drained.json()["meta"]["cache"]["cached"] == 17
    assert drained.json()["meta"]["cache"]["transformed"] == 0
    assert provider.calls == 5
    # One provider call per deliverable in all: 5 here, 12 in the cluster.
    assert GenerationLog.objects.filter(kind=KIND).count() == 17


@pytest.mark.django_db
def test_the_transform_task_is_idempotent(workspace, provider):
    [deliverable] = make_deliverables(workspace=workspace, count=1)

    assert tasks.transform(deliverable.pk) == "generated"
    assert tasks.transform(deliverable.pk) == "skipped"

    deliverable.refresh_from_db()
    assert deliverable.content_transformation_status == TransformationStatus.SUCCESS
    assert deliverable.display_is_current
    assert provider.calls == 1


@pytest.mark.django_db
def test_a_task_for_a_deleted_deliverable_does_nothing(workspace, provider):
    [deliverable] = make_deliverables(workspace=workspace, count=1)
    pk = deliverable.pk
    deliverable.delete()

    assert tasks.transform(pk) is None
    assert provider.calls == 0


@pytest.mark.django_db
def test_a_forced_retransform_calls_the_model_only_when_the_prompt_changed(
    workspace, provider, display_prompt
):
    [deliverable] = make_deliverables(workspace=workspace, count=1)
    tasks.transform(deliverable.pk)
    assert provider.calls == 1

    assert tasks.transform(deliverable.pk, True) == "cache"
    assert provider.calls == 1

    new_version_from(
        prompt=display_prompt, template=display_prompt.template + "\nBe brief.", activate=True
    )
    assert tasks.transform(deliverable.pk, True) == "generated"
    assert provider.calls == 2
    deliverable.refresh_from_db()
    assert deliverable.content_transformation_status == TransformationStatus.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_two_hundred_new_deliverables_are_queued_in_one_insert(api, workspace, provider, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.AI_TRANSFORM_MAX_BATCH = 0
    deliverables = make_deliverables(workspace=workspace, count=200)

    with CaptureQueriesContext(connection) as ctx:
        response = api.get(list_url(workspace), {"page_size": 200})

    assert response.status_code == 200
    assert response.json()["meta"]["cache"]["queued"] == 200
    inserts = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert len([sql for sql in inserts if "django_q_ormq" in sql]) == 1
    assert _queued_ids() == [d.pk for d in deliverables]
    assert provider.calls == 0


@pytest.mark.django_db(transaction=True)
def test_an_enqueue_failure_is_logged_and_the_rows_are_released(
    api, workspace, provider, settings, monkeypatch, caplog
):
    """A broker failure in the on_commit hook is logged, the request still answers and
    the other hooks run, and the rows are released at once rather than staying pending
    until their lease ends."""
    settings.AI_TRANSFORM_MAX_BATCH = 0
    deliverables = make_deliverables(workspace=workspace, count=3)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unavailable")

    monkeypatch.setattr("django_q.brokers.orm.ORM.enqueue", broker_down)
    monkeypatch.setattr("django_q.models.OrmQ.objects.bulk_create", broker_down, raising=False)
    monkeypatch.setattr("django.db.models.query.QuerySet.bulk_create", _fail_for_ormq(broker_down))

    response = api.get(list_url(workspace))

    assert response.status_code == 200
    assert "could not queue 3 deliverable transforms" in caplog.text
    statuses = set(
        Deliverable.objects.filter(pk__in=[d.pk for d in deliverables]).values_list(
            "content_transformation_status", "transform_lease_expires_at"
        )
    )
    assert statuses == {(TransformationStatus.NONE, None)}
    assert not OrmQ.objects.exists()

    # The broker is back: the next read queues them.
    monkeypatch.undo()
    settings.AI_TRANSFORM_MAX_BATCH = 0
    again = api.get(list_url(workspace))
    assert again.json()["meta"]["cache"]["queued"] == 3
    assert _queued_ids() == [d.pk for d in deliverables]


def _lease_ends(deliverable) -> None:
    Deliverable.objects.filter(pk=deliverable.pk).update(
        transform_lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_a_lost_queued_task_blocks_its_deliverable_only_until_the_lease_ends(
    workspace, django_capture_on_commit_callbacks
):
    [deliverable] = make_deliverables(workspace=workspace, count=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_transforms(deliverable_ids=[deliverable.pk]) == [deliverable.pk]
        assert queue_transforms(deliverable_ids=[deliverable.pk]) == []
    OrmQ.objects.all().delete()  # the broker lost the task

    _lease_ends(deliverable)
    with django_capture_on_commit_callbacks(execute=True):
        again = queue_transforms(deliverable_ids=[deliverable.pk])

    assert again == [deliverable.pk]
    assert _queued_ids() == [deliverable.pk]


@pytest.mark.django_db
def test_a_failed_enqueue_releases_its_own_claims_not_a_later_ones(
    workspace, django_capture_on_commit_callbacks, monkeypatch
):
    [deliverable] = make_deliverables(workspace=workspace, count=1)
    with django_capture_on_commit_callbacks() as first_request_hooks:
        queue_transforms(deliverable_ids=[deliverable.pk])
    _lease_ends(deliverable)
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_transforms(deliverable_ids=[deliverable.pk]) == [deliverable.pk]

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unavailable")

    monkeypatch.setattr("deliverables.tasks.enqueue_transforms", broker_down)
    for hook in first_request_hooks:
        hook()

    row = Deliverable.objects.get(pk=deliverable.pk)
    assert row.content_transformation_status == TransformationStatus.PENDING
    assert row.transform_lease_expires_at > timezone.now()
    assert _queued_ids() == [deliverable.pk]


def _fail_for_ormq(fail):
    from django.db.models.query import QuerySet

    original = QuerySet.bulk_create

    def bulk_create(self, objs, *args, **kwargs):
        if self.model is OrmQ:
            fail()
        return original(self, objs, *args, **kwargs)

    return bulk_create
