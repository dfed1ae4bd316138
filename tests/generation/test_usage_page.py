import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.utils import timezone

from generation.models import GenerationLog, HitCounter, Outcome
from tests.builders import make_member
from tests.reviews.builders import start_run


def log(company, *, day, kind="recommendation", **fields):
    return GenerationLog.objects.create(
        kind=kind,
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


@pytest.fixture
def staff_client(client, company):
    membership = make_member(company=company, username="operator")
    membership.user.is_staff = True
    membership.user.save()
    client.force_login(membership.user)
    return client


def chart(html: str, figure: str) -> str:
    """The markup of one chart (its figure element)."""
    start = html.index(f'id="chart-{figure}"')
    return html[start : html.index("</figure>", start)]


def test_member_sees_their_companys_numbers(member_client, usage):
    response = member_client.get("/usage/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "4,242" in html  # tokens in
    assert "1,717" in html  # tokens out
    assert "0.0123" in html  # cost
    assert '<td class="num"><strong>31</strong></td>' in chart(html, "cache_hits")
    assert usage.isoformat() in html
    assert '<span class="badge offline">offline</span>' in html


def test_every_day_of_the_period_is_on_the_charts_quiet_days_at_zero(member_client, usage):
    html = member_client.get("/usage/").content.decode()

    assert html.count('role="img"') == 5  # calls, hits, calls saved, tokens, cost
    tokens = chart(html, "tokens")
    # One bar segment for the one active day, its value in its tooltip.
    assert tokens.count("<rect") == 1
    assert f"{usage:%Y-%m-%d} · Recommendations: 5,959</title>" in tokens
    # The table has all 30 days in order, the quiet ones at zero.
    days = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>", tokens)
    today = timezone.localdate()
    assert days == [f"{today - timedelta(days=29 - i):%Y-%m-%d}" for i in range(30)]
    quiet = today - timedelta(days=3)
    assert f'<tr><td>{quiet:%Y-%m-%d}</td><td class="num">0</td>' in tokens
    assert "Activity on 1 of the 30 days" in html
    assert "<script>" not in html  # the page's own script is a static file


def test_charts_have_a_value_axis_with_unit_and_day_labels(member_client, usage):
    html = member_client.get("/usage/").content.decode()

    tokens = chart(html, "tokens")
    values = re.findall(r'<span class="tick" style="bottom:[\d.]+%">([^<]+)</span>', tokens)
    # 5,959 tokens at most: round ticks from 0 up to 6,000 at least, in thousands.
    assert values[0] == "0"
    assert values[-1] == "6k"
    assert '<span class="unit">tokens</span>' in tokens
    first = timezone.localdate() - timedelta(days=29)
    day_labels = re.findall(r'<span class="tick" style="left:[\d.]+%">([^<]+)</span>', tokens)
    assert day_labels[0] == f"{first:%b} {first.day}"
    assert len(day_labels) == 5  # weekly over 30 days
    assert '<span class="unit">USD</span>' in chart(html, "cost")


def test_kinds_have_human_names_and_a_colour_that_does_not_depend_on_the_data(
    member_client, company
):
    today = timezone.localdate()
    log(company, day=today, kind="deliverable_display")
    alone = chart(member_client.get("/usage/").content.decode(), "provider_calls")
    log(company, day=today - timedelta(days=2), kind="recommendation")
    log(company, day=today - timedelta(days=2), kind="insight")

    html = member_client.get("/usage/").content.decode()

    displays = 'fill="#e69f00"><title>{} · Deliverable displays: 1</title>'.format(
        f"{today:%Y-%m-%d}"
    )
    assert displays in alone
    assert displays in chart(html, "provider_calls")
    assert "Recommendations: 1</title>" in html
    assert "Peer insights" in html
    assert "deliverable_display" not in html
    start = html.index('<ul class="legend"')
    legend = html[start : html.index("</ul>", start)]
    # The legend follows the kinds' fixed order, not the order they first appear.
    assert legend.index("Recommendations") < legend.index("Peer insights")
    assert legend.index("Peer insights") < legend.index("Deliverable displays")


def test_members_do_not_see_operations_figures(member_client, member, usage):
    start_run(member=member)

    html = member_client.get("/usage/").content.decode()

    for hidden in ("Success rate", "Mean latency", "p50", "p95", "Failure rate", "Operations"):
        assert hidden not in html
    assert "Review runs" not in html


def test_staff_see_operations_figures_and_review_metrics(staff_client, company, usage):
    html = staff_client.get("/usage/").content.decode()

    operations = html[html.index('id="operations"') :]
    assert "staff only" in operations
    assert "Success rate" in operations
    assert "Mean latency" in operations
    assert "Review runs" in operations
    assert "p50 (s)" in operations
    assert "Failure rate" in operations
    # The row table names the kind the way the charts do.
    assert "<td>Recommendations</td>" in operations
    assert "reviews.selectors" not in html  # template comments stay comments


def test_a_chosen_period_draws_exactly_its_days(member_client, usage):
    since = usage - timedelta(days=6)

    response = member_client.get(f"/usage/?since={since:%Y-%m-%d}&until={usage:%Y-%m-%d}")

    assert response.status_code == 200
    tokens = chart(response.content.decode(), "tokens")
    assert len(re.findall(r"<tr><td>\d{4}-\d\d-\d\d</td>", tokens)) == 7
    assert 'viewBox="0 0 70 100"' in tokens


def test_a_preset_period_is_marked_current(member_client, usage):
    today = timezone.localdate()
    since = today - timedelta(days=6)

    html = member_client.get(f"/usage/?since={since:%Y-%m-%d}&until={today:%Y-%m-%d}").content

    assert b'aria-current="true">Last 7 days</a>' in html


def test_emptied_date_fields_mean_the_default_period(member_client, usage):
    response = member_client.get("/usage/?since=&until=")

    assert response.status_code == 200
    assert b"(30 days)" in response.content


@pytest.mark.parametrize(
    "query, message",
    [
        ("since=2026-13-01", "From: Date has wrong format."),
        ("until=yesterday", "To: Date has wrong format."),
        ("since=2026-03-02&until=2026-03-01", "From: since must not be after until."),
        ("since=2020-01-01&until=2022-01-01", "From: The period may cover at most 366 days."),
        ("until=9999-12-31", "To: Days from 2000-01-01 to 2999-12-31 are supported."),
    ],
)
def test_a_bad_period_is_a_clear_400_with_the_form_kept(member_client, query, message):
    response = member_client.get(f"/usage/?{query}")

    assert response.status_code == 400
    html = response.content.decode()
    assert "This period cannot be shown." in html
    assert message in html
    assert 'role="alert"' in html
    assert 'name="since"' in html  # the form is there to try again
    assert 'class="card chart"' not in html  # no chart drawn for a period it refused


def test_another_companys_numbers_are_not_shown(member_client, usage):
    html = member_client.get("/usage/").content.decode()

    assert "Globex" not in html
    assert "9,191" not in html
    assert "8,282" not in html
    assert "7.5000" not in html


def test_anonymous_is_redirected_to_login(client, db):
    response = client.get("/usage/")

    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    assert "next=/usage/" in response["Location"]


def test_member_without_activity_sees_an_empty_report(member_client):
    response = member_client.get("/usage/")

    assert response.status_code == 200
    assert b"Nothing was generated" in response.content
    assert b'class="card chart"' not in response.content
