import importlib
import io
import json
import time
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from companies.models import Company
from generation.models import GenerationLog
from recommendations import maintenance, services
from recommendations.lifecycle import Status
from recommendations.models import ContextSnapshot, HealthSummary, Insight, Recommendation
from tests.builders import make_company
from tests.recommendations.builders import make_health, make_insight, make_recommendation


def read_everything(api, company):
    api.get(reverse("company-recommendations", args=[company.pk]))
    api.get(reverse("company-insights", args=[company.pk]))
    api.get(reverse("company-health", args=[company.pk]))


def statuses(model):
    return set(model.objects.values_list("status", flat=True))


def test_age_expiry_is_per_kind(api, company, steps, provider):
    read_everything(api, company)
    now = timezone.now()

    maintenance.mark_stale(now=now + timedelta(days=6))
    assert statuses(HealthSummary) == {Status.ACTIVE}

    report = maintenance.mark_stale(now=now + timedelta(days=8))
    assert statuses(HealthSummary) == {Status.STALE}
    assert statuses(Recommendation) == {Status.ACTIVE}
    assert report.stale_by_age == {"recommendation": 0, "insight": 0, "health_summary": 1}

    maintenance.mark_stale(now=now + timedelta(days=15))
    assert statuses(Recommendation) == {Status.STALE}
    assert statuses(Insight) == {Status.ACTIVE}

    maintenance.mark_stale(now=now + timedelta(days=31))
    assert statuses(Insight) == {Status.STALE}


def test_content_stale_by_age_is_served_stale_and_refreshed_in_the_background(
    api, company, steps, provider, django_capture_on_commit_callbacks
):
    from generation import tasks
    from generation.models import Generation

    read_everything(api, company)
    calls = provider.calls
    long_ago = timezone.now() - timedelta(days=15)
    Generation.objects.update(completed_at=long_ago)
    Recommendation.objects.update(generated_at=long_ago, expires_at=long_ago + timedelta(days=14))
    maintenance.mark_stale()

    with django_capture_on_commit_callbacks() as queued:
        data = api.get(reverse("company-recommendations", args=[company.pk])).json()

    # The stored artefacts are served again, marked stale; one refresh each is queued.
    assert provider.calls == calls
    assert {r["status"] for r in data} == {Status.STALE} and len(queued) == 3
    for generation in Generation.objects.filter(kind="recommendation").exclude(owner=""):
        tasks.revalidate(generation.pk, generation.owner)
    assert provider.calls == calls + 3
    data = api.get(reverse("company-recommendations", args=[company.pk])).json()
    assert {r["status"] for r in data} == {Status.ACTIVE}


def test_a_row_without_expiry_ages_by_its_kinds_lifetime(company):
    old = timezone.now() - timedelta(days=8)
    health = make_health(company=company, context_hash="h" * 64, generated_at=old, expires_at=None)
    insight = make_insight(
        company=company, context_hash="h" * 64, generated_at=old, expires_at=None
    )

    maintenance.mark_stale()

    health.refresh_from_db()
    insight.refresh_from_db()
    assert health.status == Status.STALE
    assert insight.status == Status.FRESH


def test_the_job_stales_what_the_context_left_behind(company):
    services.refresh_context(company=company)
    current = ContextSnapshot.objects.get(company=company).context_hash
    behind = make_recommendation(company=company, context_hash="0" * 64)
    started = make_recommendation(
        company=company, context_hash="0" * 64, status=Status.ACTIVE, started_at=timezone.now()
    )
    kept = make_recommendation(company=company, context_hash=current)

    report = maintenance.mark_stale()
    again = maintenance.mark_stale()

    assert report.stale_by_context["recommendation"] == 1
    assert again.stale_total == 0  # idempotent
    assert Recommendation.objects.get(pk=behind.pk).status == Status.STALE
    assert Recommendation.objects.get(pk=started.pk).status == Status.ACTIVE
    assert Recommendation.objects.get(pk=kept.pk).status == Status.FRESH


def test_retention_deletes_old_snapshots_but_never_a_current_one_nor_generation_logs(company):
    long_ago = timezone.now() - timedelta(days=91)
    old = ContextSnapshot.objects.create(
        company=company, context_hash="1" * 64, context_data={}, is_current=False
    )
    current_but_old = ContextSnapshot.objects.create(
        company=company, context_hash="2" * 64, context_data={}, is_current=True
    )
    recent = ContextSnapshot.objects.create(
        company=company, context_hash="3" * 64, context_data={}, is_current=False
    )
    ContextSnapshot.objects.filter(pk__in=[old.pk, current_but_old.pk]).update(created_at=long_ago)
    log_fields = {"kind": "insight", "provider": "offline", "model": "offline"}
    old_log = GenerationLog.objects.create(outcome="success", created_at=long_ago, **log_fields)
    new_log = GenerationLog.objects.create(outcome="success", **log_fields)

    report = maintenance.purge()

    assert report.snapshots_deleted == 1
    assert set(ContextSnapshot.objects.values_list("pk", flat=True)) == {
        current_but_old.pk,
        recent.pk,
    }
    # Logs belong to generation, whose own retention deletes them (generation.retention).
    assert "logs_deleted" not in report.as_dict()
    assert set(GenerationLog.objects.values_list("pk", flat=True)) == {old_log.pk, new_log.pk}


def test_the_schedules_are_registered_once_with_their_tasks(db):
    names = {
        "maintenance: recommendations stale marking": "recommendations.tasks.mark_stale",
        "maintenance: recommendations retention": "recommendations.tasks.purge",
    }
    migration = importlib.import_module(
        "recommendations.migrations.0005_maintenance_schedule_names"
    )

    migration.register(django_apps, None)  # a second registration changes nothing

    rows = Schedule.objects.filter(name__in=names)
    assert {s.name: s.func for s in rows} == names
    assert rows.count() == 2
    for func in names.values():
        module, name = func.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name))


def test_the_task_entry_points_run_the_job(company):
    from recommendations import tasks

    services.refresh_context(company=company)
    make_recommendation(company=company, context_hash="0" * 64)

    assert tasks.mark_stale()["stale_by_context"]["recommendation"] == 1
    assert tasks.purge() == {
        "stale_by_context": {},
        "stale_by_age": {},
        "snapshots_deleted": 0,
    }


def test_the_command_runs_every_maintenance_job_with_a_progress_bar(company, capsys):
    services.refresh_context(company=company)
    make_recommendation(company=company, context_hash="0" * 64)
    long_ago = timezone.now() - timedelta(days=91)
    log_fields = {"kind": "insight", "provider": "offline", "model": "offline"}
    GenerationLog.objects.create(outcome="success", created_at=long_ago, **log_fields)
    out = io.StringIO()

    call_command("run_maintenance", "--batch-size", "10", stdout=out)

    report = json.loads(out.getvalue())
    assert report["recommendations"]["stale_by_context"]["recommendation"] == 1
    assert report["generation"]["logs_deleted"] == 1
    bars = capsys.readouterr().err  # tqdm's
    assert "recommendation: context" in bars and "logs: retention" in bars


def test_the_command_runs_only_the_stale_marking_when_asked(company):
    services.refresh_context(company=company)
    make_recommendation(company=company, context_hash="0" * 64)
    out = io.StringIO()

    call_command("run_maintenance", "--only", "stale", "--no-progress", stdout=out)

    report = json.loads(out.getvalue())
    assert set(report) == {"recommendations"}
    assert report["recommendations"]["stale_by_context"]["recommendation"] == 1


# --- 100,000 rows ----------------------------------------------------------------------

# Category of row i (i % 10): (status, context, started, expired) and what the job does.
CATEGORIES = {
    0: ("fresh", "current", False, False, None),
    1: ("fresh", "old", False, False, "context"),
    2: ("active", "old", False, False, "context"),
    3: ("active", "old", True, False, None),  # started: survives a context change
    4: ("completed", "old", True, False, None),
    5: ("fresh", "current", False, True, "age"),
    6: ("active", "current", True, True, "age"),
    7: ("stale", "old", False, False, None),
    8: ("active", "current", False, False, None),
    9: ("fresh", "old", False, True, "context"),  # both reasons, counted once
}


def fill_recommendations(*, rows: int, companies: list[int]) -> None:
    """INSERT ... SELECT generate_series: rows spread over the companies by category."""
    cases = {
        "status": " ".join(f"WHEN {k} THEN '{v[0]}'" for k, v in CATEGORIES.items()),
        "old": ",".join(str(k) for k, v in CATEGORIES.items() if v[1] == "old"),
        "started": ",".join(str(k) for k, v in CATEGORIES.items() if v[2]),
        "expired": ",".join(str(k) for k, v in CATEGORIES.items() if v[3]),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO recommendations_recommendation
                (company_id, context_hash, status, model, provider, generated_at, expires_at,
                 times_presented, content, started_at)
            SELECT c.id,
                   CASE WHEN i %% 10 IN ({cases["old"]}) THEN lpad(c.id::text, 64, 'o')
                        ELSE lpad(c.id::text, 64, 'c') END,
                   CASE i %% 10 {cases["status"]} END,
                   'offline', 'offline', now() - interval '1 day',
                   CASE WHEN i %% 10 IN ({cases["expired"]}) THEN now() - interval '1 hour'
                        ELSE now() + interval '13 days' END,
                   0, jsonb_build_object('title', 'bulk', 'category', i %% 10),
                   CASE WHEN i %% 10 IN ({cases["started"]}) THEN now() END
            FROM generate_series(0, %s - 1) AS i
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM companies_company
                  WHERE id = ANY(%s)) c ON c.n = (i / 10) %% %s
            """,
            [rows, companies, len(companies)],
        )


@pytest.mark.slow
def test_the_job_over_100000_rows_marks_exactly_the_expected_rows(db, settings):
    settings.MAINTENANCE_BATCH_SIZE = 1000
    companies = [make_company().pk for _ in range(50)]
    ContextSnapshot.objects.bulk_create(
        ContextSnapshot(company_id=c, context_hash=str(c).rjust(64, "c"), context_data={})
        for c in companies
    )
    fill_recommendations(rows=100_000, companies=companies)
    assert Recommendation.objects.count() == 100_000
    before = dict(Recommendation.objects.values_list("pk", "status"))
    pks = sorted(before)
    category = dict(Recommendation.objects.values_list("pk", "content__category"))

    started = time.monotonic()
    report = maintenance.mark_stale()
    elapsed = time.monotonic() - started

    after = dict(Recommendation.objects.values_list("pk", "status"))
    changed = {pk for pk in pks if after[pk] != before[pk]}
    expected = {pk for pk in pks if CATEGORIES[category[pk]][4] is not None}
    assert changed == expected
    assert all(after[pk] == Status.STALE for pk in changed)
    assert report.stale_by_context["recommendation"] == 30_000
    assert report.stale_by_age["recommendation"] == 20_000
    assert maintenance.mark_stale().stale_total == 0
    assert elapsed < 60, f"the job took {elapsed:.1f} s"
    assert Company.objects.count() >= 50
