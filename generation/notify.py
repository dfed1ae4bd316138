"""Wake waiters when a generation changes: pg_notify on PostgreSQL, polling elsewhere."""

import time

from django.db import connection

CHANNEL = "evergreen_generation"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def notify_generation(generation_id: int) -> None:
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(generation_id)])


class Waiter:
    """Blocks until `generation_id` is notified or `timeout` passes.

    On PostgreSQL a dedicated autocommit connection LISTENs; the caller must
    re-read the row after each wake-up (notifications can be missed between
    the read and the LISTEN, so waits are also capped at `slice_` seconds).
    """

    def __init__(self, generation_id: int, slice_: float = 1.0) -> None:
        self.generation_id = str(generation_id)
        self.slice = slice_
        self._conn = None
        if is_postgres():
            import psycopg

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            params.pop("prepare_threshold", None)
            self._conn = psycopg.connect(**params, autocommit=True)
            self._conn.execute(f"LISTEN {CHANNEL}")
        self._poll = 0.02

    def wait(self, timeout: float) -> None:
        timeout = max(0.0, min(timeout, self.slice))
        if self._conn is None:
            time.sleep(min(timeout, self._poll))
            self._poll = min(self._poll * 2, 0.25)
            return
        for note in self._conn.notifies(timeout=timeout):
            if note.payload == self.generation_id:
                return

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Waiter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
