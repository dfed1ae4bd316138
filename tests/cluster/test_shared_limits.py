"""What is counted or deduplicated holds across hosts: an Idempotency-Key posted to
both at once, a company's daily budget, and the generation throttle."""

import threading

import httpx
import pytest
from rest_framework.authtoken.models import Token

from reviews.models import Run
from tests.builders import make_company, make_member
from tests.cluster.conftest import HOST_ENV
from tests.recommendations.builders import make_journey

pytestmark = [pytest.mark.slow]


def test_one_idempotency_key_posted_to_both_hosts_at_once_makes_one_run(hosts, fake_provider):
    member = make_member(company=make_company(), role="editor")
    auth = {
        "Authorization": f"Token {Token.objects.create(user=member.user).key}",
        "Idempotency-Key": "export-ideas-1",
    }
    barrier = threading.Barrier(2)
    answers = {}

    def post(name: str) -> None:
        with httpx.Client(headers=auth, timeout=30) as client:
            barrier.wait()
            answers[name] = client.post(
                f"{hosts.hosts[name].url}/api/reviews/runs/", json={"idea": "Nightly exports"}
            )

    threads = [threading.Thread(target=post, args=(n,), daemon=True) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    statuses = {n: r.status_code for n, r in answers.items()}
    assert set(statuses.values()) <= {200, 202}, {n: r.text for n, r in answers.items()}
    assert answers["a"].json()["id"] == answers["b"].json()["id"]
    assert Run.objects.filter(company=member.company).count() == 1


def test_a_budget_spent_on_host_a_stops_the_model_on_host_b(hosts, fake_provider):
    company = make_company(daily_token_budget=1)
    member = make_member(company=company, role="viewer")
    auth = {"Authorization": f"Token {Token.objects.create(user=member.user).key}"}
    make_journey(domains=2, steps=3)
    a, b = hosts.hosts["a"], hosts.hosts["b"]

    first = httpx.get(f"{a.url}/api/companies/{company.pk}/health/", headers=auth, timeout=30)
    assert first.status_code == 200, first.text  # this call spends the day's budget
    for host in (b, a):
        read = httpx.get(
            f"{host.url}/api/companies/{company.pk}/recommendations/", headers=auth, timeout=30
        )
        assert read.status_code == 429, (host.name, read.text)
        assert read.json()["error"]["code"] == "budget_exceeded", read.text
        assert int(read.headers["Retry-After"]) > 0
    assert fake_provider.calls == 1


def test_the_generation_throttle_counts_requests_to_both_hosts(hosts, fake_provider):
    member = make_member(company=make_company(), role="editor")
    auth = {"Authorization": f"Token {Token.objects.create(user=member.user).key}"}
    rate = int(HOST_ENV["GENERATION_THROTTLE_RATE"].split("/")[0])
    urls = [f"{h.url}/api/reviews/runs/" for h in hosts.hosts.values()]
    with httpx.Client(headers=auth, timeout=30) as client:
        # Starting a run is charged before its body is read: an empty idea (a 400)
        # still counts, and costs no model call.
        answers = [client.post(urls[i % 2], json={"idea": ""}).status_code for i in range(rate)]
        assert answers == [400] * rate
        # Half of them went to each host; the rate is spent on both.
        for url in urls:
            over = client.post(url, json={"idea": ""})
            assert over.status_code == 429, over.text
            assert over.json()["error"]["code"] == "throttled", over.text
    assert fake_provider.calls == 0
