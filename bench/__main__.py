"""The read-path benches, one table: `.venv/bin/python -m bench`.

In-process reads against their raw floor (bench/reads.py), HTTP req/s of the
deliverables list against a bare DRF ListAPIView under uvicorn with and without
the connection pool (bench/http_list.py, needs wrk), and queueing 200 transforms
one at a time against in bulk (bench/enqueue.py). PostgreSQL database:
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/evergreen_bench_reads),
created and dropped by each bench. About 4 minutes.
"""

import argparse
import os
import platform

from bench import enqueue, http_list, reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    rows, least = reads.run(args.iterations, args.rounds)
    print(
        f"\nIn-process whole view / raw psycopg floor (medians of {args.rounds} interleaved "
        f"rounds of {args.iterations}; goal <= 2.5x)"
    )
    print(
        "| read | view ms | floor ms | ratio | goal met | view's statements alone ms "
        "| their ratio | left at 2.5x ms |\n|---|---|---|---|---|---|---|---|"
    )
    for row in rows:
        print(
            f"| {row['read']} | {row['view_ms']:.2f} | {row['floor_ms']:.2f} "
            f"| {row['ratio']:.2f}x | {'yes' if row['ratio'] <= 2.5 else 'no'} "
            f"| {row['statements_ms']:.2f} ({row['statements']}) "
            f"| {row['statements_ratio']:.2f}x | {row['left_ms']:.2f} |"
        )
    print(
        "\nThe least a request costs through the same handler and middleware: "
        + ", ".join(f"{label} {ms:.2f} ms" for label, ms in least.items())
    )
    http = http_list.run(args.seconds, args.rounds, workers=2)
    print(
        f"\nHTTP, uvicorn 2 workers, wrk 16 connections {args.seconds} s x {args.rounds} "
        "interleaved; goal listing / bare >= 1.2x"
    )
    print(
        "| connections | listing req/s | bare ListAPIView req/s | ratio | goal met "
        "| lopsided windows repeated |"
    )
    print("|---|---|---|---|---|---|")
    for row in http:
        print(
            f"| {row['connections']} | {row['api_rps']:.1f} | {row['bare_rps']:.1f} "
            f"| {row['ratio']:.2f}x | {'yes' if row['ratio'] >= 1.2 else 'no'} "
            f"| {row['lopsided_windows_repeated']} |"
        )
    queued = enqueue.run(200, args.rounds)
    print("\nQueueing 200 transforms after commit (ORM broker)")
    print("| connections | one at a time ms | bulk ms |\n|---|---|---|")
    for row in queued:
        print(f"| {row['connections']} | {row['one_by_one_ms']:.1f} | {row['bulk_ms']:.1f} |")


if __name__ == "__main__":
    main()
