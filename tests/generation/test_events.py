"""The per-process listener hub: one LISTEN connection, waiters that hold none, and no
wake-up lost when the listener's connection drops."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection

from generation.events import Hub, hub, notify_generation, wait_for_listener
from generation.flight import Source, get_or_generate
from tests.builders import make_prompt
from tests.processes import test_database_url as database_url

pytestmark = pytest.mark.django_db(transaction=True)


def _admin_connection() -> psycopg.Connection:
    """A connection of the test's own, outside Django, to look at pg_stat_activity."""
    return psycopg.connect(database_url().replace("postgres://", "postgresql://"))


def listen_connections(admin: psycopg.Connection) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
    ).fetchall()
    return [pid for (pid,) in rows]


def connection_count(admin: psycopg.Connection) -> int:
    return admin.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchone()[0]


def test_many_subscribers_share_one_listen_connection():
    subscriptions = [hub.subscribe(n) for n in range(50)]
    try:
        assert wait_for_listener()
        with _admin_connection() as admin:
            assert len(listen_connections(admin)) == 1
    finally:
        for sub in subscriptions:
            sub.close()


def test_a_notification_wakes_only_the_subscribers_of_that_generation():
    with hub.subscribe(1) as mine, hub.subscribe(2) as other:
        assert wait_for_listener()
        mine.wait(0), other.wait(0)  # the connect wake-up, if it came after subscribing
        notify_generation(1)
        assert mine.wait(5) is True
        assert other.wait(0.2) is False


def test_listener_reconnects_after_losing_its_connection_and_wakes_every_waiter():
    with hub.subscribe(7) as sub:
        assert wait_for_listener()
        sub.wait(0)
        connects = hub.connects
        with _admin_connection() as admin:
            (pid,) = listen_connections(admin)
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        # Whatever happened while nobody listened: the reconnect wakes everyone.
        # (While the listener is down, waits are short polls: callers re-read state.)
        deadline = time.monotonic() + 10
        woken = False
        while not (woken and hub.connects > connects) and time.monotonic() < deadline:
            woken = sub.wait(1) or woken
        assert woken
        assert hub.connects == connects + 1
        assert wait_for_listener()
        notify_generation(7)
        assert sub.wait(5) is True


def test_waiters_hold_no_database_connection_while_the_owner_generates(provider, company):
    make_prompt(key="slow", template="Write about {{ topic }}.")
    provider.delay = 2.0
    waiters = 12

    def read():
        try:
            return get_or_generate(
                kind="note",
                scope=f"company:{company.pk}",
                prompt_key="slow",
                inputs={"topic": "herds"},
                company_id=company.pk,
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(waiters + 1) as pool, _admin_connection() as admin:
        futures = [pool.submit(read) for _ in range(waiters + 1)]
        deadline = time.monotonic() + 10
        while hub.subscriber_count() < waiters and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hub.subscriber_count() == waiters
        time.sleep(0.3)
        # Mid-call: the owner is at the provider, everyone else is asleep on the hub.
        during = max(connection_count(admin) for _ in range(10) if not time.sleep(0.05))
        results = [f.result(timeout=30) for f in futures]

    assert provider.calls == 1
    assert sorted(r.source for r in results).count(Source.SHARED) == waiters
    # Idle connections kept by the pool (if any), the hub's LISTEN connection and
    # this test's own Django connection: none of them is a waiter's.
    pool = connection.settings_dict["OPTIONS"].get("pool") or {}
    bound = pool.get("max_size", 0) + 2
    assert during <= bound, f"{during} connections while {waiters} readers waited"


def test_subscribing_from_an_event_loop_wakes_the_coroutine():
    import asyncio

    async def wait_for_notify() -> bool:
        sub = hub.subscribe(42)
        try:
            await asyncio.get_running_loop().run_in_executor(None, wait_for_listener)
            await sub.wait_async(0)
            threading.Timer(0.1, lambda: _notify_from_thread(42)).start()
            return await sub.wait_async(5)
        finally:
            sub.close()

    assert asyncio.run(wait_for_notify()) is True


def _notify_from_thread(generation_id: int) -> None:
    try:
        notify_generation(generation_id)
    finally:
        connection.close()


def test_the_listener_connects_where_listen_database_url_points(settings):
    """Behind a transaction-pooling PgBouncer the LISTEN must reach PostgreSQL itself:
    the hub uses LISTEN_DATABASE_URL, not the default database's connection."""
    settings.LISTEN_DATABASE_URL = "postgres://postgres@127.0.0.1:9/nowhere"
    nowhere = Hub()
    try:
        with nowhere.subscribe(3):
            time.sleep(0.5)
            assert not nowhere.listening
    finally:
        nowhere.stop()

    settings.LISTEN_DATABASE_URL = database_url()
    direct = Hub()
    try:
        with direct.subscribe(3) as sub:
            deadline = time.monotonic() + 5
            while not direct.listening and time.monotonic() < deadline:
                time.sleep(0.01)
            assert direct.listening
            sub.wait(0)  # the connect wake-up
            notify_generation(3)
            assert sub.wait(5) is True
    finally:
        direct.stop()
