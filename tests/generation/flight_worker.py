"""Run N threads that all ask get_or_generate for the same artefact at the same instant.

Started as a child process by test_single_flight.py; prints one JSON line per thread.
Usage: python -m tests.generation.flight_worker PROMPT_KEY COMPANY_ID THREADS START_AT [--die]
"""

import json
import os
import sys
import threading
import time


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.db import connection

    from generation import flight as services

    prompt_key, company_id, threads, start_at = sys.argv[1:5]
    die = "--die" in sys.argv
    if die:
        # Simulate a worker killed in the middle of its provider call.
        real = services.get_provider()

        class Dying:
            name = real.name

            def __getattr__(self, attr):
                os._exit(17)

        services.get_provider = lambda name=None: Dying()

    results: list[dict] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            time.sleep(max(0.0, float(start_at) - time.time()))
            result = services.get_or_generate(
                kind="flight",
                scope=f"company:{company_id}",
                prompt_key=prompt_key,
                inputs={"topic": "single flight"},
                company_id=int(company_id),
            )
            row = {
                "generation": result.generation.pk,
                "source": str(result.source),
                "content": result.content,
            }
        except Exception as exc:
            row = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            connection.close()
        with lock:
            results.append(row)

    workers = [threading.Thread(target=one) for _ in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for row in results:
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
