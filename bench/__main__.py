"""The read-path benches, one table: `.venv/bin/python -m bench`.

In-process reads against their raw floor (bench/reads.py), HTTP req/s of the
API's reads against a bare DRF ListAPIView under uvicorn with and without the
connection pool (bench/http_list.py, needs wrk: checked first), and queueing 200 transforms
one at a time against in bulk (bench/enqueue.py). PostgreSQL database:
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/evergreen_bench_reads),
created and dropped by each bench. About 4 minutes.

The scale benches run by name, with their own options:

    python -m bench sse-host [...]   1,000 SSE clients on one host (bench/sse_host.py)
    python -m bench scale [...]      the cached reads at 10k and at 1M/10M rows (bench/scale.py)
"""

import argparse
import os
import platform
import shutil
import sys

from bench import enqueue, http_list, reads

# Benches run by name: `python -m bench <name> [their options]`.
NAMED = {"sse-host": "bench.sse_host", "scale": "bench.scale"}


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in NAMED:
        import importlib

        name = sys.argv.pop(1)
        sys.argv[0] = f"python -m bench {name}"
        sys.exit(importlib.import_module(NAMED[name]).main())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    rows, least = reads.run(args.iterations, args.rounds)
    print(
        f"\nIn-process whole view / raw psycopg floor (medians of {args.rounds} interleaved "
        f"rounds of {args.iterations})"
    )
    print(
        "| read | view ms | floor ms | ratio | view's statements alone ms "
        "| their ratio |\n|---|---|---|---|---|---|"
    )
    for row in rows:
        print(
            f"| {row['read']} | {row['view_ms']:.2f} | {row['floor_ms']:.2f} "
            f"| {row['ratio']:.2f}x "
            f"| {row['statements_ms']:.2f} ({row['statements']}) "
            f"| {row['statements_ratio']:.2f}x |"
        )
    print(
        "\nThe least a request costs through the same handler and middleware: "
        + ", ".join(f"{label} {ms:.2f} ms" for label, ms in least.items())
    )
    http = http_list.run(args.seconds, args.rounds, workers=2)
    print(
        f"\nHTTP, uvicorn 2 workers, wrk 16 connections {args.seconds} s x {args.rounds} "
        "interleaved; goal: each read / bare ListAPIView >= 1.3x"
    )
    print("| connections | read | req/s | bare ListAPIView req/s | ratio | goal met |")
    print("|---|---|---|---|---|---|")
    for row in http:
        print(
            f"| {row['connections']} | {row['read']} | {row['api_rps']:.1f} "
            f"| {row['bare_rps']:.1f} | {row['ratio']:.2f}x "
            f"| {'yes' if row['ratio'] >= 1.3 else 'no'} |"
        )
    queued = enqueue.run(200, args.rounds)
    print("\nQueueing 200 transforms after commit (ORM broker)")
    print("| connections | one at a time ms | bulk ms |\n|---|---|---|")
    for row in queued:
        print(f"| {row['connections']} | {row['one_by_one_ms']:.1f} | {row['bulk_ms']:.1f} |")


if __name__ == "__main__":
    main()
