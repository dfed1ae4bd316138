"""Queueing 200 deliverable transforms on the ORM broker: one task at a time (what the
listing did before: one async_task per deliverable in its on_commit hook) against
one bulk enqueue (deliverables.tasks.enqueue_transforms), same run, same database.

    .venv/bin/python -m bench.enqueue [--count 200] [--rounds 3]

Timed after the claiming transaction commits, as the hooks ran. Each mode runs in
a fresh process so the pool setting applies; the median of the rounds is printed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from bench import common


def _child(url: str, count: int, rounds: int, pool: bool) -> dict:
    common.setup_django(
        url, DB_POOL="true" if pool else "false", CONN_MAX_AGE="0", Q_CLUSTER_NAME="bench"
    )
    import time

    from django.db import transaction
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    from deliverables import tasks

    ids = list(range(1, count + 1))
    one_by_one, bulk = [], []
    for _ in range(rounds):
        OrmQ.objects.all().delete()
        started = time.perf_counter()
        with transaction.atomic():
            for pk in ids:
                transaction.on_commit(lambda pk=pk: async_task(tasks.TASK, pk, False))
        one_by_one.append(time.perf_counter() - started)
        assert OrmQ.objects.count() == count
        OrmQ.objects.all().delete()
        started = time.perf_counter()
        with transaction.atomic():
            transaction.on_commit(lambda: tasks.enqueue_transforms(ids))
        bulk.append(time.perf_counter() - started)
        assert OrmQ.objects.count() == count
    OrmQ.objects.all().delete()
    return {
        "one_by_one_ms": statistics.median(one_by_one) * 1000,
        "bulk_ms": statistics.median(bulk) * 1000,
    }


def run(count: int, rounds: int) -> list[dict]:
    url = common.bench_url()
    common.recreate(url)
    try:
        common.setup_django(url)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        connections.close_all()
        results = []
        for pool in (True, False):
            out = subprocess.run(
                [sys.executable, "-m", "bench.enqueue", "--child", "--count", str(count)]
                + ["--rounds", str(rounds)]
                + ([] if pool else ["--no-pool"]),
                cwd=common.ROOT,
                env={**os.environ, "PYTHONPATH": str(common.ROOT)},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            results.append({"connections": "pool" if pool else "no pool", **json.loads(out)})
        return results
    finally:
        common.recreate(url, drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-pool", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(common.bench_url(), args.count, args.rounds, not args.no_pool)))
        return
    for row in run(args.count, args.rounds):
        print(
            f"{row['connections']:<8} {args.count} tasks: one at a time "
            f"{row['one_by_one_ms']:8.1f} ms, bulk {row['bulk_ms']:6.1f} ms"
        )


if __name__ == "__main__":
    main()
