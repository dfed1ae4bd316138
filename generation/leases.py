"""One lease primitive for everything that is worked on by one holder at a time.

A lease is two columns on a row: who holds it (an owner token) and until when. A
holder takes it with one conditional UPDATE (the row is free: nobody holds it, or the
holder's time ran out), renews it while it works, and gives it back when it is done.
A holder that dies simply stops renewing, so its lease expires and the next caller
takes the row over; no lock is held between statements, which keeps it usable
through PgBouncer in transaction mode.

Used by generation claims (generation.flight), review runs (reviews) and deliverable
transforms (deliverables).
"""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from generation.events import release_connection

logger = logging.getLogger(__name__)


def owner_token() -> str:
    """A token naming this holder: host, process, thread and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Lease:
    """How one kind of row is leased: its two columns and the lease's length.

    `seconds` is a callable so settings changed at run time (tests) are honoured.
    `owner_field` may be None for rows whose lease has no named holder (a queue
    claim): then only the expiry says whether the row is taken.
    """

    seconds: Callable[[], float]
    expires_field: str = "lease_expires_at"
    owner_field: str | None = "owner"

    def until(self, now: datetime | None = None) -> datetime:
        return (now or timezone.now()) + timedelta(seconds=self.seconds())

    def free(self, now: datetime | None = None) -> Q:
        """Rows nobody holds: no expiry, or an expiry in the past."""
        now = now or timezone.now()
        return Q(**{f"{self.expires_field}__isnull": True}) | Q(
            **{f"{self.expires_field}__lt": now}
        )

    def held(self, now: datetime | None = None) -> Q:
        """Rows whose lease still runs."""
        return Q(**{f"{self.expires_field}__gte": now or timezone.now()})

    def expired(self, now: datetime | None = None) -> Q:
        """Rows that were held and whose holder stopped renewing."""
        return Q(**{f"{self.expires_field}__lt": now or timezone.now()})

    def _holder(self, owner: str | None) -> dict:
        return {self.owner_field: owner} if self.owner_field and owner is not None else {}

    def take(self, queryset: QuerySet, *, owner: str | None = None, now=None, **fields) -> int:
        """Take the lease of the free rows of `queryset` (one conditional UPDATE that
        also writes `fields`); returns how many rows this call took."""
        now = now or timezone.now()
        return queryset.filter(self.free(now)).update(
            **{self.expires_field: self.until(now)}, **self._holder(owner), **fields
        )

    def take_over(self, queryset: QuerySet, *, owner: str, now=None, **fields) -> int:
        """Take rows whatever holds them, as long as `queryset` selects them (the
        caller's filter says when a row may be taken, e.g. an expired one)."""
        now = now or timezone.now()
        return queryset.update(
            **{self.expires_field: self.until(now)}, **self._holder(owner), **fields
        )

    def renew(self, queryset: QuerySet, *, owner: str) -> int:
        """Push the expiry of rows this owner still holds; 0 means the lease was lost
        (taken over, or released: a renewal racing the release must not revive it)."""
        return (
            queryset.filter(**self._holder(owner))
            .filter(**{f"{self.expires_field}__isnull": False})
            .update(**{self.expires_field: self.until()})
        )

    def expire(self, queryset: QuerySet, *, owner: str) -> int:
        """End the lease of the rows this owner holds now, keeping the holder named: the
        next taker sees a takeover (the holder stopped), not a row never worked on."""
        return queryset.filter(**self._holder(owner)).update(**{self.expires_field: timezone.now()})

    def release(self, queryset: QuerySet, *, owner: str | None = None, **fields) -> int:
        """Give back the rows this owner holds (any holder when owner is None): no expiry
        and a blank holder, so a task still carrying the old token finds nothing to do.
        `fields` are written too and win over those two (an expiry in the future keeps
        the row from being taken again for a while)."""
        vacated = {self.expires_field: None}
        if self.owner_field:
            vacated[self.owner_field] = ""
        return queryset.filter(**self._holder(owner)).update(**{**vacated, **fields})


class Renewer:
    """Renews a lease from a thread while the holder works (a context manager).

    Each renewal gives its connection back afterwards: the thread sleeps most of the
    time and must not keep a database connection from the pool meanwhile.
    """

    def __init__(self, lease: Lease, queryset_of: Callable[[], QuerySet], *, owner: str, name: str):
        self.lease, self.queryset_of, self.owner = lease, queryset_of, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> "Renewer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = max(0.2, self.lease.seconds() / 3)
        try:
            while not self._stop.wait(interval):
                try:
                    self.lease.renew(self.queryset_of(), owner=self.owner)
                except DatabaseError:
                    # One failed renewal must not end them all: the lease lasts three
                    # intervals, so the next attempt on a new connection is in time.
                    logger.warning("could not renew lease %s", self.owner, exc_info=True)
                    connection.close()
                    continue
                release_connection()
        finally:
            connection.close()
