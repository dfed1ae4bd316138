"""A listing whose displays are stale never starves the connection pool: the
production server (2 uvicorn workers, a pool of 4 each), a model answering after
2 s, a herd of 50 first reads of one workspace and a burst of 300 mixed requests
answer without a single 5xx, within the documented bound of connections."""

import threading
import uuid
from collections import Counter

import httpx
import pytest
from rest_framework.authtoken.models import Token

from tests.builders import make_company, make_member, restore_migrated_rows
from tests.deliverables.builders import list_url, make_deliverables, make_workspace
from tests.processes import test_database_url as database_url
from tests.servers import ConnectionSampler, asgi_server, herd

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 2
POOL_MAX = 4
HERD = 50
BURST = 300


def _burst(base: str, token: str, urls: list[str]) -> Counter:
    """`BURST` GETs over the urls, 30 at a time."""
    statuses: Counter = Counter()
    lock = threading.Lock()
    pending = iter(range(BURST))

    def worker() -> None:
        with httpx.Client(headers={"Authorization": f"Token {token}"}, timeout=60) as client:
            for n in pending:
                try:
                    status = client.get(base + urls[n % len(urls)]).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    statuses[status] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return statuses


def test_a_herd_and_a_burst_on_stale_displays_get_no_5xx(fake_openai):
    if database_url().startswith("sqlite"):
        pytest.skip("counts PostgreSQL connections")
    company = make_company()
    member = make_member(company=company, role="viewer")
    token = Token.objects.create(user=member.user).key
    restore_migrated_rows()

    stale = make_workspace(company=company, name="Stale")
    make_deliverables(workspace=stale, count=12)
    other = make_workspace(company=company, name="Other")
    make_deliverables(workspace=other, count=12)
    fake_openai.delay(2.0, times=None)
    application_name = f"evergreen-starve-{uuid.uuid4().hex[:12]}"
    sampler = ConnectionSampler(application_name)

    with asgi_server(
        workers=WORKERS,
        DEBUG="false",
        DB_APPLICATION_NAME=application_name,
        DB_POOL="true",
        DB_POOL_MAX_SIZE=str(POOL_MAX),
        DB_POOL_TIMEOUT="10",
        GENERATION_THROTTLE_RATE="1000000/minute",
        OPENAI_REQUEST_TIMEOUT="20",
        RETRY_TOTAL_TIMEOUT="30",
        LOG_LEVEL="WARNING",
    ) as server:
        sampler.start()
        results, wall = herd(
            server.url + list_url(stale), {"Authorization": f"Token {token}"}, HERD, timeout=60
        )
        burst = _burst(
            server.url,
            token,
            [
                list_url(other),
                list_url(stale),
                "/api/workspaces/",
                f"/api/companies/{company.pk}/journey/",
                "/api/health/",
            ],
        )
        sampler.stop()
        log = server.output()

    statuses = Counter(status for status, _ in results)
    bound = WORKERS * (POOL_MAX + 1)
    summary = (
        f"{HERD} first reads of a workspace of stale displays: {dict(statuses)} in {wall:.1f}s; "
        f"{BURST} mixed requests: {dict(burst)}; peak connections {sampler.peak} "
        f"(bound {bound}); provider calls {fake_openai.calls}"
    )
    print(f"\n{summary}")
    context = f"{summary}\nserver log:\n{log[-3000:]}"
    assert all(isinstance(s, int) and s < 500 for s in statuses), context
    assert all(isinstance(s, int) and s < 500 for s in burst), context
    assert sum(statuses.values()) == HERD and sum(burst.values()) == BURST, context
    assert sampler.peak <= bound, context
