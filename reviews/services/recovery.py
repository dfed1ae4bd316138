"""Recovery: running runs that lost their worker are queued again."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from reviews.lifecycle import RunStatus
from reviews.models import Run
from reviews.services.runs import RUN_LEASE, TASK


def recover_runs() -> list[str]:
    """Queue again every running run whose worker's lease ran out, or that no worker
    ever took (its task was lost). The task itself decides, under the lease."""
    now = timezone.now()
    lease = timedelta(seconds=RUN_LEASE.seconds())
    stuck = Run.objects.filter(status=RunStatus.RUNNING).filter(
        RUN_LEASE.expired(now) | Q(lease_expires_at__isnull=True, created_at__lt=now - lease)
    )
    ids = [str(pk) for pk in stuck.values_list("pk", flat=True)]
    from django_q.tasks import async_task

    for run_id in ids:
        async_task(TASK, run_id, task_name=f"review run {run_id} (recovery)")
    return ids
