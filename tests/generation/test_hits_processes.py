"""Cache-hit counts under concurrent readers in several server processes.

Each process counts in memory and flushes every FLUSH_SECONDS (generation/writebehind.py)
onto the unique key of HitCounter, rows in key order: the processes flushing at once
must not deadlock, the day must have one counter row, not one per process or flush,
and the hits recorded must be exactly the hits served, none lost or added twice.
"""

import threading
import time

import httpx
import pytest
from rest_framework.authtoken.models import Token

from generation.models import HitCounter
from tests.deliverables.builders import give_current_displays, make_deliverables, make_workspace
from tests.processes import wait_until
from tests.servers import asgi_server

WORKERS = 3
READERS = 12
SECONDS = 5.0
FLUSH_SECONDS = 0.5


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_readers_in_several_processes_record_exactly_the_hits_served(member, company):
    workspace = make_workspace(company=company)
    make_deliverables(workspace=workspace, count=50)
    give_current_displays(workspace=workspace)
    token, _ = Token.objects.get_or_create(user=member.user)
    assert not HitCounter.objects.exists()  # a day with no counter row yet

    served, errors, lock = [0], [], threading.Lock()

    def reader(base_url: str) -> None:
        headers = {"Authorization": f"Token {token.key}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline:
                response = client.get(f"/api/workspaces/{workspace.pk}/deliverables/")
                if response.status_code != 200:
                    errors.append(response.status_code)
                    continue
                with lock:
                    served[0] += response.json()["meta"]["cache"]["cached"]

    with asgi_server(workers=WORKERS, HIT_FLUSH_SECONDS=str(FLUSH_SECONDS)) as server:
        threads = [threading.Thread(target=reader, args=(server.url,)) for _ in range(READERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        def recorded() -> int:
            return sum(HitCounter.objects.values_list("hits", flat=True))

        # Every worker flushes within FLUSH_SECONDS of the last read.
        wait_until(lambda: recorded() == served[0], timeout=10, interval=FLUSH_SECONDS)
        time.sleep(3 * FLUSH_SECONDS)  # and nothing more arrives
        log = server.output()
        total, rows = recorded(), HitCounter.objects.count()

    print(
        f"\n{READERS} readers, {WORKERS} worker processes, {SECONDS:.0f} s: "
        f"{served[0]} hits served, {total} recorded, {rows} counter row(s)"
    )
    assert errors == []
    assert served[0] > 50 * READERS
    assert total == served[0]
    assert rows == 1
    assert "deadlock" not in log.lower()
    assert "WARNING" not in log and "ERROR" not in log, log
