"""Benchmark of the recommendations maintenance job (stale marking) at 1,000,000 rows.

Creates its own PostgreSQL database, migrates it, fills it with SQL, runs the job
(batches of MAINTENANCE_BATCH_SIZE, each its own short transaction), then measures a
baseline on the same rows: one plain UPDATE per reason (context, age) in one
transaction, the fastest way to mark them but holding every row lock until the end.
Prints both times, rows/second and the ratio, then drops the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evergreen_bench \\
        .venv/bin/python bench/recommendations_maintenance.py [--rows 1000000] [--companies 1000]

The database named in DATABASE_URL is dropped and re-created: do not point it at data
you want to keep.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Category of row i (i % 10): status, context, started, expired. Half of the rows are
# to be marked: 3 in 10 by context, 2 in 10 by age.
FILL_SQL = """
INSERT INTO recommendations_recommendation
    (company_id, context_hash, status, model, provider, generated_at, expires_at,
     times_presented, content, started_at)
SELECT c.id,
       CASE WHEN i %% 10 IN (1, 2, 3, 4, 7, 9) THEN lpad(c.id::text, 64, 'o')
            ELSE lpad(c.id::text, 64, 'c') END,
       CASE i %% 10 WHEN 0 THEN 'fresh' WHEN 1 THEN 'fresh' WHEN 2 THEN 'active'
            WHEN 3 THEN 'active' WHEN 4 THEN 'completed' WHEN 5 THEN 'fresh'
            WHEN 6 THEN 'active' WHEN 7 THEN 'stale' WHEN 8 THEN 'active'
            ELSE 'fresh' END,
       'offline', 'offline', now() - interval '1 day',
       CASE WHEN i %% 10 IN (5, 6, 9) THEN now() - interval '1 hour'
            ELSE now() + interval '13 days' END,
       0, jsonb_build_object('title', 'bench', 'category', i %% 10),
       CASE WHEN i %% 10 IN (3, 4, 6) THEN now() END
FROM generate_series(0, %(rows)s - 1) AS i
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM companies_company) c
  ON c.n = (i / 10) %% %(companies)s
"""

RESTORE_SQL = """
UPDATE recommendations_recommendation SET stale_at = NULL,
  status = CASE (content->>'category')::int WHEN 2 THEN 'active' WHEN 6 THEN 'active'
           ELSE 'fresh' END
WHERE stale_at IS NOT NULL
"""

BASELINE_SQL = [
    """
    UPDATE recommendations_recommendation r SET status = 'stale', stale_at = now()
    FROM recommendations_contextsnapshot s
    WHERE s.company_id = r.company_id AND s.is_current
      AND (r.status = 'fresh' OR (r.status = 'active' AND r.started_at IS NULL))
      AND r.context_hash <> s.context_hash
    """,
    """
    UPDATE recommendations_recommendation SET status = 'stale', stale_at = now()
    WHERE status IN ('fresh', 'active') AND expires_at <= now()
    """,
]


def admin_conninfo(url) -> str:
    return url._replace(path="/postgres").geturl()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=1000)
    args = parser.parse_args()

    raw = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evergreen_bench"
    ).replace("postgresql://", "postgres://")
    url = urlparse(raw)
    dbname = url.path.lstrip("/")
    if not url.scheme.startswith("postgres") or not dbname:
        sys.exit("DATABASE_URL must name a PostgreSQL database (it is dropped and re-created).")
    admin = admin_conninfo(url).replace("postgres://", "postgresql://", 1)

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        run(raw, args.rows, args.companies)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        print(f"dropped database {dbname}")


def run(database_url: str, rows: int, companies: int) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A bench on a machine of its own: no production secret or hosts to configure.
    os.environ.setdefault("EVERGREEN_MODE", "development")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from recommendations import maintenance

    call_command("migrate", verbosity=0)

    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO companies_company (name, slug, created_at) "
            "SELECT 'Bench ' || n, 'bench-' || n, now() FROM generate_series(1, %s) AS n",
            [companies],
        )
        cursor.execute(
            "INSERT INTO recommendations_contextsnapshot "
            "(company_id, context_hash, context_data, is_current, created_at) "
            "SELECT id, lpad(id::text, 64, 'c'), '{}'::jsonb, true, now() "
            "FROM companies_company"
        )
        cursor.execute(FILL_SQL, {"rows": rows, "companies": companies})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE recommendations_recommendation")
    fill = time.monotonic() - started
    print(f"filled {rows:,} recommendations for {companies:,} companies in {fill:.1f} s")

    started = time.monotonic()
    parts = {}
    report = maintenance.MaintenanceReport()
    for kind, model in maintenance.CONTENT_MODELS.items():
        t = time.monotonic()
        report.stale_by_context[kind] = maintenance.mark_stale_by_context(model=model)
        parts[f"{kind} by context"] = time.monotonic() - t
        t = time.monotonic()
        report.stale_by_age[kind] = maintenance.mark_stale_by_age(kind=kind)
        parts[f"{kind} by age"] = time.monotonic() - t
    job = time.monotonic() - started
    marked = report.stale_total
    batches = -(-marked // settings.MAINTENANCE_BATCH_SIZE)
    print(
        f"stale marking: marked {marked:,} rows stale "
        f"(context {report.stale_by_context['recommendation']:,}, "
        f"age {report.stale_by_age['recommendation']:,}) in {job:.2f} s; "
        f"{rows / job:,.0f} rows examined/s, {marked / job:,.0f} rows marked/s; "
        f"batches of {settings.MAINTENANCE_BATCH_SIZE} (about {batches:,} UPDATEs)"
    )

    print("  " + ", ".join(f"{name} {sec:.2f} s" for name, sec in parts.items() if sec >= 0.01))

    with connection.cursor() as cursor:
        cursor.execute(RESTORE_SQL)
        cursor.execute("VACUUM ANALYZE recommendations_recommendation")

    started = time.monotonic()
    baseline_marked = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in BASELINE_SQL:
            cursor.execute(sql)
            baseline_marked += cursor.rowcount
    baseline = time.monotonic() - started
    print(
        f"baseline (plain UPDATEs, one transaction): marked {baseline_marked:,} rows in "
        f"{baseline:.2f} s; {rows / baseline:,.0f} rows examined/s"
    )
    if baseline_marked != marked:
        print(f"MISMATCH: the job marked {marked:,}, the baseline {baseline_marked:,}")
    print(f"ratio job / baseline: {job / baseline:.2f}x")


if __name__ == "__main__":
    main()
