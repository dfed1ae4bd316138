"""Cached deliverables list: our path against a raw psycopg fetch plus json.dumps.

Run (PostgreSQL; the database named in DATABASE_URL is created, migrated and
dropped at the end, so give it a name of its own):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evergreen_bench \
        .venv/bin/python bench/deliverables_list.py [--rows 50] [--iterations 400]

What is timed, in this process, for a workspace of 50 deliverables whose
displays are all cached (no provider call, no write):

- service: what WorkspaceDeliverablesView does after loading the workspace:
  the page query (selectors.deliverable_page), the cache-first service
  (services.serve_deliverables, with its log line), the listed fields
  (DeliverableListSerializer: the displays' rendered fields in one get_many on
  Django's default cache, warm after the first read) and DRF's JSONRenderer to
  bytes. The default cache is Redis when REDIS_CACHE_URL is set, else the
  process's memory. Cache hits are counted in memory and
  written by a background flush (generation/hits.py), in neither timing.
- baseline: psycopg.connect'ed cursor, the same SELECT of the same columns and
  rows, dict rows, json.dumps(default=str) to bytes.
- view (for information): the whole DRF view through APIClient: auth,
  workspace query. bench/reads.py times it with token auth against its floor.

It prints the median of each and the ratio service / baseline.
"""

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/evergreen_bench"


def _admin_url(url: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/postgres"))


def _recreate(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_data(rows: int):
    from django.core.management import call_command
    from django.db.models import F
    from django.utils import timezone

    from companies.services import create_api_user
    from deliverables.models import Deliverable, DeliverableStatus, TransformationStatus, Workspace
    from deliverables.schemas import DeliverableDisplay
    from deliverables.services import PROMPT_KEY, create_deliverable, display_inputs
    from generation.models import Prompt

    call_command("migrate", verbosity=0)
    # Made by the active display prompt: current, so the listing serves them as stored.
    prompt = Prompt.objects.get(key=PROMPT_KEY, is_active=True)
    membership, _ = create_api_user(username="bench", company_name="Bench Co", role="editor")
    workspace = Workspace.objects.create(company=membership.company, name="Bench")
    for n in range(rows):
        content = {
            "summary": f"Quarterly findings {n}: churn fell 3 points after onboarding changes.",
            "sections": [
                {"heading": "Context", "body": "Teams re-created reports by hand each week."},
                {"heading": "Result", "body": "Six hours saved per analyst and week."},
            ],
            "owner": "Operations",
        }
        deliverable = create_deliverable(
            workspace=workspace,
            title=f"Deliverable {n}",
            content=content,
            status=DeliverableStatus.COMPLETED,
        )
        display = DeliverableDisplay.offline_example(
            display_inputs(title=deliverable.title, content=content)
        )
        Deliverable.objects.filter(pk=deliverable.pk).update(
            display_content=display["display_content"],
            display_format=display["display_format"],
            display_quality_score=display["display_quality_score"],
            ai_confidence=display["ai_confidence"],
            auto_display_generated=True,
            transformation_timestamp=timezone.now(),
            content_transformation_status=TransformationStatus.SUCCESS,
            display_source_hash=F("content_hash"),
            display_prompt=prompt,
        )
    return membership.user, workspace


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def run(url: str, rows: int, iterations: int) -> None:
    os.environ["DATABASE_URL"] = url
    # Production settings: DEBUG would record every query.
    os.environ["DEBUG"] = "False"
    os.environ.setdefault("EVERGREEN_MODE", "development")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("EVERGREEN_PROVIDER", "offline")
    import django

    django.setup()
    import psycopg
    from django.core.cache import cache
    from django.db import connection
    from psycopg.rows import dict_row
    from rest_framework.renderers import JSONRenderer
    from rest_framework.test import APIClient

    from deliverables import selectors, services
    from deliverables.serializers import DeliverableListSerializer, DeliverablePageQuerySerializer

    # Keep the service's log line (formatting included) but off the terminal.
    devnull = open(os.devnull, "w")  # noqa: SIM115
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)

    user, workspace = _setup_data(rows)
    renderer = JSONRenderer()
    view_url = f"/api/workspaces/{workspace.pk}/deliverables/?page_size={rows}"

    def service_path() -> bytes:
        query = DeliverablePageQuerySerializer(data={"page_size": str(rows)})
        query.is_valid(raise_exception=True)
        page = selectors.deliverable_page(workspace=workspace, **query.validated_data)
        listing = services.serve_deliverables(workspace=workspace, page=page)
        return renderer.render(
            {
                "results": DeliverableListSerializer(listing.deliverables, many=True).data,
                "meta": {"cache": listing.stats.as_dict()},
            }
        )

    columns = ", ".join(f'"{c}"' for c in selectors.LIST_FIELDS)
    sql = (
        f"SELECT {columns} FROM deliverables_deliverable "
        "WHERE workspace_id = %s ORDER BY id LIMIT %s"
    )
    raw = psycopg.connect(url, autocommit=True, row_factory=dict_row)

    def baseline() -> bytes:
        with raw.cursor() as cursor:
            cursor.execute(sql, (workspace.pk, rows + 1))
            fetched = cursor.fetchall()[:rows]
        return json.dumps(fetched, default=str).encode()

    client = APIClient()
    client.force_authenticate(user)

    def view() -> bytes:
        response = client.get(view_url)
        assert response.status_code == 200, response.content
        return response.content

    from rest_framework.throttling import ScopedRateThrottle

    ScopedRateThrottle.THROTTLE_RATES = {"generation": "1000000/minute"}

    # Same rows both ways, and nothing transformed.
    body = json.loads(service_path())
    assert len(body["results"]) == rows == len(json.loads(baseline()))
    assert body["meta"]["cache"]["cached"] == rows and body["meta"]["cache"]["transformed"] == 0

    timings: dict[str, list[float]] = {"service": [], "baseline": [], "view": []}
    for _ in range(50):  # warm-up
        service_path()
        baseline()
    for _ in range(iterations):
        for name, func in (("service", service_path), ("baseline", baseline)):
            started = time.perf_counter()
            func()
            timings[name].append(time.perf_counter() - started)
    for _ in range(20):
        view()
    for _ in range(iterations // 2):
        started = time.perf_counter()
        view()
        timings["view"].append(time.perf_counter() - started)

    # The database is dropped, but a Redis cache would keep the entries: no timeout.
    listed = selectors.deliverable_page(workspace=workspace, limit=rows).deliverables
    keys = (DeliverableListSerializer().cache_key(d) for d in listed)
    cache.delete_many([key for key in keys if key is not None])
    raw.close()
    connection.close()
    service_ms = _median_ms(timings["service"])
    baseline_ms = _median_ms(timings["baseline"])
    view_ms = _median_ms(timings["view"])
    print(f"cached list of {rows} deliverables, {iterations} iterations, medians:")
    print(f"  baseline (psycopg fetch + json.dumps): {baseline_ms:.3f} ms")
    print(f"  service + serializer + JSON render:    {service_ms:.3f} ms")
    print(f"  ratio service / baseline:              {service_ms / baseline_ms:.2f}x")
    print(f"  whole DRF view via APIClient:          {view_ms:.3f} ms")
    print(
        f"  ratio view / baseline:                 {view_ms / baseline_ms:.2f}x (for information)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=400)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must name a PostgreSQL database of its own (it is dropped).")
    _recreate(url)
    try:
        run(url, args.rows, args.iterations)
    finally:
        _recreate(url, drop_only=True)


if __name__ == "__main__":
    main()
