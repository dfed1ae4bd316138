"""Background work for real: the Django-Q2 cluster on the Redis broker drains a queue,
and a task whose cluster was killed with SIGKILL runs again soon after (Q_RETRY)."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import redis
from django_q.models import OrmQ, Task

from tests.processes import ROOT, child_env, qcluster, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS_URL = "redis://127.0.0.1:6379/0"


def enqueue(count: int, func: str, *args, **env: str) -> None:
    """Queue tasks from a child process, as the app would (the broker is chosen at start)."""
    code = (
        "from django_q.tasks import async_task\n"
        f"for n in range({count}):\n"
        f"    async_task({func!r}, *{args!r}, task_name=f'test-{{n}}')\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=child_env(**env),
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_cluster_on_the_redis_broker_drains_a_queue():
    name = f"evergreen-test-{uuid.uuid4().hex[:8]}"
    env = {"Q_REDIS_URL": REDIS_URL, "Q_CLUSTER_NAME": name}
    client = redis.Redis.from_url(REDIS_URL)
    try:
        enqueue(5, "math.floor", 2.5, **env)
        assert client.llen(f"django_q:{name}:q") == 5  # queued in Redis, not in the database
        assert not OrmQ.objects.exists()

        with qcluster(**env):
            wait_until(
                lambda: Task.objects.filter(success=True).count() == 5,
                timeout=60,
                message="the cluster did not drain the Redis queue",
            )

        assert sorted(Task.objects.values_list("result", flat=True)) == [2] * 5
        assert client.llen(f"django_q:{name}:q") == 0
    finally:
        client.delete(f"django_q:{name}:q")
        client.close()


def test_task_of_a_killed_cluster_runs_again_after_q_retry():
    # A small retry budget: lease 15 s, Q_TIMEOUT 15 s, Q_RETRY 20 s (config/settings.py).
    env = {"RETRY_TOTAL_TIMEOUT": "5"}
    enqueue(1, "time.sleep", 6, **env)

    with qcluster(**env) as first:
        wait_until(
            lambda: OrmQ.objects.filter(lock__isnull=False).exists(),
            timeout=60,
            message="the first cluster never took the task",
        )
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    assert not Task.objects.exists()

    with qcluster(**env):
        wait_until(
            lambda: Task.objects.filter(success=True).exists(),
            timeout=90,
            message="the task was never delivered again",
        )
    recovered = time.monotonic() - killed_at

    print(f"task of a SIGKILLed cluster finished {recovered:.1f} s after the kill (Q_RETRY 20 s)")
    assert recovered < 60, f"recovered after {recovered:.1f} s"
    assert Task.objects.count() == 1
