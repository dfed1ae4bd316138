from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generation.flight import Source, get_or_generate
from generation.hits import record_hit
from generation.models import GenerationLog, HitCounter, Outcome
from generation.selectors import usage_report, usage_stats
from generation.writebehind import flush_now
from tests.builders import make_prompt

REC, INSIGHT = "recommendation", "insight"


def at_noon(day) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def log(company, kind, day, *, attempts=1, outcome=Outcome.SUCCESS, provider="offline", **fields):
    return GenerationLog.objects.create(
        kind=kind,
        company=company,
        provider=provider,
        model="gpt-4o-mini",
        attempts=attempts,
        outcome=outcome,
        created_at=at_noon(day),
        **fields,
    )


def hits(company, kind, day, count):
    return HitCounter.objects.create(day=day, kind=kind, company=company, hits=count)


@pytest.fixture
def days():
    today = timezone.localdate()
    return today - timedelta(days=2), today - timedelta(days=1)


@pytest.fixture
def usage_data(company, other_company, days):
    d2, d1 = days
    # Acme, recommendations, yesterday: two successes (one after a retry), one
    # failure after three attempts, one request refused by the budget.
    log(company, REC, d1, tokens_in=100, tokens_out=50, cost=Decimal("0.001"), latency_ms=200)
    log(
        company,
        REC,
        d1,
        attempts=2,
        tokens_in=120,
        tokens_out=60,
        cost=Decimal("0.002"),
        latency_ms=400,
    )
    log(company, REC, d1, attempts=3, outcome=Outcome.FAILED, latency_ms=900)
    log(company, REC, d1, attempts=0, outcome=Outcome.BUDGET_EXCEEDED)
    hits(company, REC, d1, 7)  # one row per day, kind and company (a unique key)
    # Acme, insights: generated the day before on another provider, hits only yesterday.
    log(
        company,
        INSIGHT,
        d2,
        provider="openai",
        tokens_in=10,
        tokens_out=20,
        cost=Decimal("0.0005"),
        latency_ms=100,
    )
    hits(company, INSIGHT, d1, 3)
    # Acme, outside the period: not counted.
    log(company, REC, d1 - timedelta(days=60), tokens_in=7777)
    # Globex: another tenant.
    log(other_company, REC, d1, tokens_in=999, tokens_out=999, cost=Decimal("1.5"))
    hits(other_company, REC, d1, 11)
    log(other_company, INSIGHT, d2, tokens_in=888)


def row_for(rows, *, day, kind, company):
    matches = [r for r in rows if (r["day"], r["kind"], r["company"]) == (day, kind, company)]
    assert len(matches) == 1, matches
    return matches[0]


def test_usage_figures_per_day_kind_and_company(usage_data, company, days):
    d2, d1 = days

    rows = usage_stats(company_ids=[company.pk], since=d2, until=d1)

    assert len(rows) == 3
    rec = row_for(rows, day=d1, kind=REC, company=company.pk)
    assert rec["company_name"] == "Acme"
    assert rec["provider_calls"] == 6  # 1 + 2 + 3 real requests; the budget refusal made none
    assert rec["generations"] == 3
    assert rec["cache_hits"] == 7
    assert rec["calls_saved"] == 7
    assert rec["tokens_in"] == 220
    assert rec["tokens_out"] == 110
    assert rec["cost"] == Decimal("0.003")
    assert rec["success_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert rec["mean_latency_ms"] == 500.0
    assert rec["budget_exceeded"] == 1
    assert rec["providers"] == ["offline"]

    generated = row_for(rows, day=d2, kind=INSIGHT, company=company.pk)
    assert generated["provider_calls"] == 1
    assert generated["success_rate"] == 1.0
    assert generated["mean_latency_ms"] == 100.0
    assert generated["providers"] == ["openai"]
    assert generated["cache_hits"] == 0

    served = row_for(rows, day=d1, kind=INSIGHT, company=company.pk)
    assert served["cache_hits"] == 3
    assert served["provider_calls"] == 0
    assert served["success_rate"] is None
    assert served["mean_latency_ms"] is None
    assert served["providers"] == []


def test_usage_totals_over_the_period(usage_data, company, days):
    d2, d1 = days

    totals = usage_report(company_ids=[company.pk], since=d2, until=d1)["totals"]

    assert totals["provider_calls"] == 7
    assert totals["generations"] == 4
    assert totals["cache_hits"] == 10
    assert totals["calls_saved"] == 10
    assert totals["tokens_in"] == 230
    assert totals["tokens_out"] == 130
    assert totals["cost"] == Decimal("0.0035")
    assert totals["success_rate"] == 0.75
    assert totals["mean_latency_ms"] == 400.0  # (200 + 400 + 900 + 100) / 4
    assert totals["budget_exceeded"] == 1
    assert totals["providers"] == ["offline", "openai"]


def test_usage_kind_filter_keeps_only_that_kind(usage_data, company, days):
    d2, d1 = days

    rows = usage_stats(company_ids=[company.pk], since=d2, until=d1, kind=INSIGHT)

    assert {r["kind"] for r in rows} == {INSIGHT}
    assert len(rows) == 2


def test_usage_api_shows_only_the_callers_companies(api, usage_data, company, days):
    d2, d1 = days

    response = api.get("/api/usage/", {"since": d2.isoformat(), "until": d1.isoformat()})

    assert response.status_code == 200
    body = response.json()
    assert {r["company"] for r in body["rows"]} == {company.pk}
    assert body["since"] == d2.isoformat()
    assert body["totals"]["tokens_in"] == 230
    assert body["totals"]["cost"] == "0.003500"
    rec = next(r for r in body["rows"] if r["day"] == d1.isoformat() and r["kind"] == REC)
    assert rec["provider_calls"] == 6
    assert rec["cost"] == "0.003000"


def test_usage_api_defaults_to_the_last_30_days(api, usage_data):
    body = api.get("/api/usage/").json()

    today = timezone.localdate()
    assert body["until"] == today.isoformat()
    assert body["since"] == (today - timedelta(days=29)).isoformat()
    assert body["totals"]["tokens_in"] == 230  # the 60-day-old log is outside


def test_usage_api_company_and_kind_filters(api, usage_data, company):
    response = api.get("/api/usage/", {"company": company.pk, "kind": REC})

    assert response.status_code == 200
    assert {r["kind"] for r in response.json()["rows"]} == {REC}


def test_usage_api_another_companys_id_is_a_404(api, usage_data, other_company):
    response = api.get("/api/usage/", {"company": other_company.pk})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-13-01"},
        {"until": "not-a-date"},
        {"since": "2026-03-02", "until": "2026-03-01"},
        {"since": "2025-01-01", "until": "2026-01-02"},  # 367 days
        {"company": "acme"},
    ],
)
def test_usage_api_bad_query_is_a_400_with_the_error_shape(api, params):
    response = api.get("/api/usage/", params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["details"]


def test_usage_api_accepts_a_period_of_366_days(api):
    response = api.get("/api/usage/", {"since": "2024-01-01", "until": "2024-12-31"})

    assert response.status_code == 200


def _bulk_logs(company, other_company, count, today):
    kinds = (REC, INSIGHT, "health_summary")
    GenerationLog.objects.bulk_create(
        GenerationLog(
            kind=kinds[i % 3],
            company=(company, other_company)[i % 2],
            provider="offline",
            model="gpt-4o-mini",
            attempts=1 + i % 2,
            outcome=Outcome.SUCCESS if i % 4 else Outcome.FAILED,
            tokens_in=i,
            created_at=at_noon(today - timedelta(days=i % 20)),
        )
        for i in range(count)
    )
    HitCounter.objects.bulk_create(
        HitCounter(day=today - timedelta(days=i % 20), kind=kinds[i % 3], company=company, hits=i)
        for i in range(count // 10)
    )


def _queries_for_report(company, other_company) -> tuple[int, int]:
    today = timezone.localdate()
    ids = [company.pk, other_company.pk]
    with CaptureQueriesContext(connection) as ctx:
        rows = usage_stats(company_ids=ids, since=today - timedelta(days=29), until=today)
    return len(ctx.captured_queries), len(rows)


def test_usage_costs_the_same_queries_for_10_and_200_logs(company, other_company):
    today = timezone.localdate()
    _bulk_logs(company, other_company, 10, today)
    few_queries, few_rows = _queries_for_report(company, other_company)

    GenerationLog.objects.all().delete()
    HitCounter.objects.all().delete()
    _bulk_logs(company, other_company, 200, today)
    many_queries, many_rows = _queries_for_report(company, other_company)

    assert many_rows > few_rows
    assert few_queries == many_queries == 3


def test_usage_api_costs_the_same_queries_for_10_and_200_logs(api, company, other_company):
    today = timezone.localdate()
    counts = []
    for count in (10, 200):
        GenerationLog.objects.all().delete()
        HitCounter.objects.all().delete()
        _bulk_logs(company, other_company, count, today)
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/usage/").status_code == 200
        counts.append(len(ctx.captured_queries))

    assert counts[0] == counts[1], counts


def _hit_counter_writes(ctx) -> int:
    return sum(
        1
        for q in ctx.captured_queries
        if "generation_hitcounter" in q["sql"]
        and q["sql"].lstrip().startswith(("UPDATE", "INSERT"))
    )


def _read(company):
    return get_or_generate(
        kind=INSIGHT,
        scope=f"company:{company.pk}",
        prompt_key="test-prompt",
        inputs={"topic": "onboarding"},
        company_id=company.pk,
    )


def test_cached_reads_write_nothing_and_one_flush_writes_them_all(provider, company):
    make_prompt()
    assert _read(company).source == Source.GENERATED

    with CaptureQueriesContext(connection) as ctx:
        sources = {_read(company).source for _ in range(20)}

    assert sources == {Source.CACHE}
    assert provider.calls == 1
    assert _hit_counter_writes(ctx) == 0
    assert not HitCounter.objects.exists()

    with CaptureQueriesContext(connection) as ctx:
        assert flush_now() == 20

    assert _hit_counter_writes(ctx) == 1
    assert sum(HitCounter.objects.values_list("hits", flat=True)) == 20


def test_a_flush_adds_to_the_days_row(provider, company):
    make_prompt()
    _read(company)
    for _ in range(3):
        _read(company)
    flush_now()
    for _ in range(5):
        _read(company)
    flush_now()

    assert HitCounter.objects.count() == 1
    assert HitCounter.objects.get().hits == 8
    assert flush_now() == 0  # nothing pending


def test_hits_without_a_company_have_one_row_per_day_and_kind(db):
    for _ in range(3):
        record_hit(kind="story", company_id=None, count=2)
        flush_now()

    assert list(HitCounter.objects.values_list("kind", "company_id", "hits")) == [
        ("story", None, 6)
    ]


def test_a_failed_flush_loses_its_interval_and_never_raises(db, company, monkeypatch, caplog):
    record_hit(kind="story", company_id=company.pk, count=4)

    def broken(*args, **kwargs):
        raise DatabaseError("the database is away")

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", broken)
    assert flush_now() == 0
    monkeypatch.undo()

    assert "could not record 4 cache hits" in caplog.text
    record_hit(kind="story", company_id=company.pk, count=1)
    assert flush_now() == 1
    assert HitCounter.objects.get().hits == 1
