from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.utils import timezone

from generation.models import GenerationLog, HitCounter, Outcome


def log(company, *, day, **fields):
    return GenerationLog.objects.create(
        kind="recommendation",
        company=company,
        provider="offline",
        model="gpt-4o-mini",
        attempts=1,
        outcome=Outcome.SUCCESS,
        created_at=datetime.combine(day, time(12), tzinfo=UTC),
        **fields,
    )


@pytest.fixture
def usage(company, other_company):
    yesterday = timezone.localdate() - timedelta(days=1)
    log(company, day=yesterday, tokens_in=4242, tokens_out=1717, cost=Decimal("0.0123"))
    HitCounter.objects.create(day=yesterday, kind="recommendation", company=company, hits=31)
    log(other_company, day=yesterday, tokens_in=9191, tokens_out=8282, cost=Decimal("7.5"))
    return yesterday


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


def test_member_sees_their_companys_numbers(member_client, usage):
    response = member_client.get("/usage/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "4,242" in html  # tokens in
    assert "1,717" in html  # tokens out
    assert "0.0123" in html  # cost
    assert ">31<" in html  # cache hits
    assert usage.isoformat() in html
    assert '<span class="badge offline">offline</span>' in html


def test_usage_page_draws_active_days_by_kind_without_inline_scripts(member_client, usage):
    html = member_client.get("/usage/").content.decode()

    assert html.count("<svg") == 5  # calls, hits, calls saved, tokens, cost
    # One active day, one kind: one segment in each chart with something to draw.
    assert html.count("<rect") == 5
    assert f"{usage:%Y-%m-%d}: 5,959</title>" in html  # the tokens bar of that day
    assert f"{usage:%Y-%m-%d} · recommendation: 5,959</title>" in html
    # Each chart has its numbers in a table under it, one row per active day.
    assert html.count(f"<tr><td>{usage:%Y-%m-%d}</td>") == 5
    # The 29 days without activity are collapsed into one sentence, not rows of zeros.
    assert "29 days without any are left out" in html
    assert "<script>" not in html  # the page's own script is a static file


def test_another_companys_numbers_are_not_shown(member_client, usage):
    html = member_client.get("/usage/").content.decode()

    assert "Globex" not in html
    assert "9,191" not in html
    assert "8,282" not in html
    assert "7.5" not in html


def test_anonymous_is_redirected_to_login(client, db):
    response = client.get("/usage/")

    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    assert "next=/usage/" in response["Location"]


def test_member_without_activity_sees_an_empty_report(member_client):
    response = member_client.get("/usage/")

    assert response.status_code == 200
    assert b"Nothing was generated" in response.content
