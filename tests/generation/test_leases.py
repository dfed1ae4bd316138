"""The one lease primitive (generation.leases) on Generation rows: who may take, renew
and give back a row, and a renewing thread that outlives a failed renewal."""

import itertools
import time
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from generation.leases import Lease, Renewer, owner_token
from generation.models import Generation

LEASE = Lease(seconds=lambda: 60)
_keys = itertools.count(1)


def make_row(*, owner: str = "", lease_for: timedelta | None = None) -> Generation:
    """A generation whose lease runs for `lease_for` (negative: it ran out), or none."""
    return Generation.objects.create(
        kind="lease",
        scope="tests",
        context_hash=f"{next(_keys):064d}",
        owner=owner,
        lease_expires_at=timezone.now() + lease_for if lease_for is not None else None,
    )


def holders() -> dict[int, str]:
    return dict(Generation.objects.values_list("pk", "owner"))


@pytest.mark.django_db
def test_take_takes_the_rows_nobody_holds_and_leaves_a_live_lease_alone():
    free = make_row()
    expired = make_row(owner="dead", lease_for=timedelta(seconds=-1))
    live = make_row(owner="alive", lease_for=timedelta(minutes=1))

    taken = LEASE.take(Generation.objects.all(), owner="me", status="streaming")

    assert taken == 2
    assert holders() == {free.pk: "me", expired.pk: "me", live.pk: "alive"}
    assert set(Generation.objects.filter(LEASE.held()).values_list("pk", flat=True)) == {
        free.pk,
        expired.pk,
        live.pk,
    }
    assert Generation.objects.get(pk=free.pk).status == "streaming"
    assert LEASE.take(Generation.objects.all(), owner="someone else") == 0


@pytest.mark.django_db
def test_take_over_takes_an_expired_lease_only_when_the_filter_says_so():
    expired = make_row(owner="dead", lease_for=timedelta(seconds=-1))
    live = make_row(owner="alive", lease_for=timedelta(minutes=1))

    taken = LEASE.take_over(Generation.objects.filter(LEASE.expired()), owner="me")

    assert taken == 1
    assert holders() == {expired.pk: "me", live.pk: "alive"}
    assert Generation.objects.get(pk=expired.pk).lease_expires_at > timezone.now()


@pytest.mark.django_db
def test_only_the_holder_renews_its_lease():
    row = make_row(owner="me", lease_for=timedelta(seconds=5))
    before = Generation.objects.get(pk=row.pk).lease_expires_at

    assert LEASE.renew(Generation.objects.filter(pk=row.pk), owner="someone else") == 0
    assert Generation.objects.get(pk=row.pk).lease_expires_at == before

    assert LEASE.renew(Generation.objects.filter(pk=row.pk), owner="me") == 1
    assert Generation.objects.get(pk=row.pk).lease_expires_at > before + timedelta(seconds=50)


@pytest.mark.django_db
def test_release_frees_the_row_for_good_and_only_by_its_holder():
    row = make_row(owner="me", lease_for=timedelta(minutes=1))
    rows = Generation.objects.filter(pk=row.pk)

    assert LEASE.release(rows, owner="someone else", status="failed") == 0
    assert LEASE.release(rows, owner="me", status="completed") == 1

    row.refresh_from_db()
    assert (row.owner, row.lease_expires_at, row.status) == ("", None, "completed")
    # A renewal racing the release does not bring the lease back.
    assert LEASE.renew(rows, owner="me") == 0
    assert LEASE.take(rows, owner="next") == 1


@pytest.mark.django_db
def test_release_can_keep_the_row_blocked_for_a_while():
    row = make_row(owner="me", lease_for=timedelta(minutes=1))
    cooldown = timezone.now() + timedelta(seconds=30)

    LEASE.release(Generation.objects.filter(pk=row.pk), owner="me", lease_expires_at=cooldown)

    row.refresh_from_db()
    assert (row.owner, row.lease_expires_at) == ("", cooldown)
    assert LEASE.take(Generation.objects.filter(pk=row.pk), owner="next") == 0


@pytest.mark.django_db(transaction=True)
def test_a_renewer_keeps_the_lease_past_its_length_even_after_a_failed_renewal():
    failures = []

    class FailsOnce(Lease):
        def renew(self, queryset, *, owner):
            if not failures:
                failures.append(owner)
                raise OperationalError("the connection dropped")
            return super().renew(queryset, owner=owner)

    lease = FailsOnce(seconds=lambda: 1.2)  # renewed every 0.4 s
    owner = owner_token()
    row = make_row()
    assert lease.take(Generation.objects.filter(pk=row.pk), owner=owner) == 1

    with Renewer(lease, lambda: Generation.objects.filter(pk=row.pk), owner=owner, name="t"):
        time.sleep(2.5)
        assert Generation.objects.filter(lease.held(), pk=row.pk, owner=owner).exists()

    assert failures == [owner]
    time.sleep(2)  # one lease and then some: nobody renews it any more
    assert not Generation.objects.filter(lease.held(), pk=row.pk).exists()
