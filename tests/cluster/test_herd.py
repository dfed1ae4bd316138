"""A herd of first reads spread over two hosts through nginx and PgBouncer: one model
call for everyone, no 5xx, PostgreSQL connections within the documented bound."""

from collections import Counter

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from recommendations.models import HealthSummary
from tests.builders import make_company, make_member
from tests.cluster.conftest import BackendSampler
from tests.recommendations.builders import make_journey
from tests.servers import herd

pytestmark = [pytest.mark.slow]

HERD = 100
PROVIDER_DELAY = 3.0  # the herd arrives while the one call runs


def test_a_herd_over_two_hosts_makes_one_call_without_5xx_within_the_connection_bound(
    hosts, fake_provider
):
    company = make_company()
    member = make_member(company=company, role="viewer")
    token = Token.objects.create(user=member.user).key
    make_journey(domains=2, steps=3)
    fake_provider.delay(PROVIDER_DELAY)
    sampler = BackendSampler(
        hosts.database_name, settings.DATABASES["default"]["OPTIONS"]["application_name"]
    )
    sampler.start()
    try:
        results, wall = herd(
            f"{hosts.url}/api/companies/{company.pk}/health/",
            {"Authorization": f"Token {token}"},
            HERD,
            timeout=60,
        )
    finally:
        sampler.stop()

    statuses = Counter(status for status, _ in results)
    upstreams = Counter(
        response.headers.get("x-upstream") for _, response in results if response is not None
    )
    bound = hosts.sizes.postgres_bound()
    summary = (
        f"{HERD} first reads through nginx over 2 hosts x {hosts.sizes.web_workers} workers: "
        f"statuses {dict(statuses)}, by host {dict(upstreams)}, provider calls "
        f"{fake_provider.calls}, wall {wall:.2f}s, peak PostgreSQL connections "
        f"{sampler.peak} (LISTEN {sampler.peak_listen}; bound {bound}, "
        f"{sampler.samples} samples)"
    )
    print(f"\n{summary}")
    context = f"{summary}\n{hosts.logs()}"

    assert len(results) == HERD, context
    assert fake_provider.calls == 1, context
    assert not [s for s in statuses if not isinstance(s, int) or s >= 500], context
    assert set(statuses) <= {200, 202}, context
    assert len(upstreams) == 2, context  # both hosts answered part of the herd
    row = HealthSummary.objects.get(company=company)
    for status, response in results:
        if status == 200:
            assert response.json()["id"] == row.pk, context
    assert sampler.peak <= bound, context
