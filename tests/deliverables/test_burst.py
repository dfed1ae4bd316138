"""A generating burst on the production server: many list reads at once while the
provider is slow. No response is a 5xx, and the server's database connections stay
within the documented bound (workers x (pool max + 1))."""

import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
from rest_framework.authtoken.models import Token

from deliverables.models import Deliverable
from tests.builders import make_member
from tests.deliverables.builders import list_url, make_deliverables
from tests.processes import test_database_url as database_url
from tests.servers import ConnectionSampler, asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 2
POOL_MAX = 4
REQUESTS = 500
CONCURRENCY = 50


def burst(url: str, token: str) -> tuple[Counter, float]:
    """REQUESTS GETs, CONCURRENCY at a time: the count of each status (or error)."""
    statuses: Counter = Counter()
    lock = threading.Lock()
    remaining = iter(range(REQUESTS))

    def client() -> None:
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(headers=headers, timeout=120) as http:
            for _ in remaining:
                try:
                    outcome = http.get(url).status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with lock:
                    statuses[outcome] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return statuses, time.monotonic() - started


def test_a_generating_burst_gives_no_5xx_and_bounded_connections(
    fake_openai, company, workspace, transform_threads_finish
):
    if database_url().startswith("sqlite"):
        pytest.skip("counts PostgreSQL connections")
    token = Token.objects.create(user=make_member(company=company).user).key
    make_deliverables(workspace=workspace, count=200)
    fake_openai.delay(2, times=None)  # every call takes 2 s
    application_name = f"evergreen-burst-{uuid.uuid4().hex[:12]}"
    sampler = ConnectionSampler(application_name)

    with asgi_server(
        workers=WORKERS,
        DB_APPLICATION_NAME=application_name,
        DB_POOL_MAX_SIZE=str(POOL_MAX),
        GENERATION_THROTTLE_RATE="1000000/minute",
        OPENAI_REQUEST_TIMEOUT="20",
        RETRY_TOTAL_TIMEOUT="30",
        LOG_LEVEL="WARNING",
    ) as server:
        sampler.start()
        statuses, wall = burst(f"{server.url}{list_url(workspace)}", token)
        sampler.stop()
        log = server.output()

    bound = WORKERS * (POOL_MAX + 1)
    summary = (
        f"{REQUESTS} list reads, {CONCURRENCY} at a time, provider 2 s, {WORKERS} workers x "
        f"pool max {POOL_MAX}: statuses {dict(statuses)}, peak connections {sampler.peak} "
        f"(bound {bound}), provider calls {fake_openai.calls}, wall {wall:.1f} s"
    )
    print(f"\n{summary}")
    context = f"{summary}\nserver log:\n{log[-3000:]}"
    assert sum(statuses.values()) == REQUESTS, context
    assert set(statuses) == {200}, context
    assert sampler.peak <= bound, context
    assert fake_openai.calls >= 1, context
    assert Deliverable.objects.count() == 200
