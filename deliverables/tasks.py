"""Django-Q2 entry points: load by id, call one service; safe to run twice.

`enqueue_transforms` queues many transforms in one round trip to the broker.
"""

from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.humanhash import uuid
from django_q.models import OrmQ
from django_q.signals import pre_enqueue
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from deliverables import services

TASK = services.TASK


def transform(deliverable_id: int, force: bool = False) -> str | None:
    outcome = services.transform_deliverable(deliverable_id=deliverable_id, force=force)
    return outcome.source if outcome else None


def enqueue_transforms(deliverable_ids: list[int], *, force: bool = False) -> None:
    """One `transform` task per deliverable, queued in one round trip: a multi-row
    INSERT into the ORM broker's queue table, or one RPUSH of all the packages on
    Redis. Each task is the package `async_task` would have made (same signing, same
    pre_enqueue signal). Raises whatever the broker raises: the caller releases the
    rows. Q_SYNC (tests, development) runs them at once through async_task."""
    if not deliverable_ids:
        return
    if Conf.SYNC:
        for pk in deliverable_ids:
            async_task(TASK, pk, force)
        return
    broker = get_broker()
    packages = [_package(TASK, pk, force) for pk in deliverable_ids]
    list_key = broker.list_key or Conf.CLUSTER_NAME
    if isinstance(broker, ORM):
        now = timezone.now()
        OrmQ.objects.using(Conf.ORM).bulk_create(
            [OrmQ(key=list_key, payload=package, lock=now) for package in packages]
        )
    elif hasattr(broker.connection, "rpush"):  # Redis
        broker.connection.rpush(list_key, *packages)
    else:  # another broker: one enqueue each
        for package in packages:
            broker.enqueue(package)


def _package(func: str, *args) -> str:
    """The signed task package of django_q.tasks.async_task(func, *args)."""
    tag = uuid()
    task = {"id": tag[1], "name": tag[0], "func": func, "args": args}
    if Conf.CACHED:
        task["cached"] = Conf.CACHED
    if Conf.ACK_FAILURES:
        task["ack_failure"] = Conf.ACK_FAILURES
    task["kwargs"] = {}
    task["started"] = timezone.now()
    pre_enqueue.send(sender="django_q", task=task)
    return SignedPackage.dumps(task)
