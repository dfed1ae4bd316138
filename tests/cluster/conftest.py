"""Two hosts behind nginx and PgBouncer, started once for every test of this folder.

The topology (tests/cluster/topology.py) runs on the test database with the fake
OpenAI server as both hosts' provider; each test resets the server and builds its own
rows (a transactional test's rows are flushed after it, so it also makes the prompts
and personas the migrations made).
"""

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.builders import restore_migrated_rows
from tests.cluster import topology
from tests.fake_openai.server import FakeOpenAI
from tests.processes import child_env
from tests.processes import test_database_url as database_url

SIZES = topology.Sizes(hosts=2, web_workers=2, q_workers=1, db_pool_max=4, bouncer_pool=8)
# Short leases, so that a dead host's work is taken over within seconds; every wait
# outlasts a lease (docs/operations.md, the timings that follow from the retry budget).
GENERATION_LEASE = 12
REVIEWS_LEASE = 12
HOST_ENV = {
    "EVERGREEN_PROVIDER": "openai",
    "OPENAI_API_KEY": "test-key",
    "RETRY_BASE_DELAY": "0.01",
    "RETRY_MAX_DELAY": "0.05",
    "OPENAI_REQUEST_TIMEOUT": "8",
    "RETRY_TOTAL_TIMEOUT": "9",
    "GENERATION_LEASE_SECONDS": str(GENERATION_LEASE),
    "GENERATION_WAIT_SECONDS": str(GENERATION_LEASE + 15),
    "REVIEWS_LEASE_SECONDS": str(REVIEWS_LEASE),
    "REVIEWS_MAX_WAIT_SECONDS": "30",
    "Q_TIMEOUT": "60",
    "Q_RETRY": "65",
    # Counted across both hosts in the shared cache (Redis).
    "GENERATION_THROTTLE_RATE": "120/minute",
    "SSE_HEARTBEAT_SECONDS": "2",
    "DEBUG": "false",
    "LOG_LEVEL": "WARNING",
}


# Package scope: the topology (and its clusters' scheduled jobs on the test database)
# is stopped when the last test here ends, not left running under the rest of the suite.
@pytest.fixture(scope="package")
def fake_provider() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def cluster(django_db_setup, django_db_blocker, fake_provider) -> Iterator[topology.Topology]:
    """PgBouncer, hosts a and b (each 2 uvicorn workers and a cluster of 1), nginx."""
    with django_db_blocker.unblock():
        url = database_url()
        env = child_env(**HOST_ENV, OPENAI_BASE_URL=fake_provider.base_url)
    if not url.startswith("postgres"):
        pytest.skip("several hosts need PostgreSQL")
    topology.ensure_packages()
    with topology.start(url, sizes=SIZES, env=env) as running:
        yield running


@pytest.fixture
def hosts(cluster, fake_provider, transactional_db) -> Iterator[topology.Topology]:
    """The running topology, both hosts up, a provider with an empty script, the
    migrations' rows in place."""
    for host in cluster.hosts.values():
        if host.web is None or host.web.poll() is not None:
            host.start_web()
        if host.cluster is None or host.cluster.poll() is not None:
            host.start_cluster()
    fake_provider.reset()
    fake_provider.pace(0)
    restore_migrated_rows()
    yield cluster
    fake_provider.reset()
    fake_provider.pace(0)


class BackendSampler(threading.Thread):
    """Counts the PostgreSQL backends of the topology every 20 ms (every connection to
    the test database but the test process's own, named `own_name`), keeps the peaks:
    all of them and the LISTENs among them."""

    def __init__(self, database: str, own_name: str) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.own_name = own_name
        self.peak = 0
        self.peak_listen = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        with psycopg.connect(
            database_url(), autocommit=True, application_name="evergreen-test-sampler"
        ) as conn:
            own = conn.info.backend_pid
            while not self.stopping.is_set():
                total, listening = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE query ILIKE 'LISTEN%%')"
                    " FROM pg_stat_activity WHERE datname = %s AND pid <> %s"
                    " AND application_name IS DISTINCT FROM %s",
                    [self.database, own, self.own_name],
                ).fetchone()
                self.peak = max(self.peak, total)
                self.peak_listen = max(self.peak_listen, listening)
                self.samples += 1
                time.sleep(0.02)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
