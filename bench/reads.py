"""In-process whole view against a raw psycopg floor, for each cached read.

    .venv/bin/python -m bench.reads [--iterations 200] [--rounds 3]

Each read goes through Django's WSGI handler, called in process with the environ a
server would pass, so it pays the whole stack a real request pays: the request
signals (a connection taken from the pool and given back), middleware, URL
resolution, token authentication (the dashboard: a session cookie), the company and
membership lookups, selection, serialization, rendering, and anything the read
writes. (Django's test Client adds work of its own that no server request pays:
~0.05 ms here.) The floor, in the same run, is a psycopg connection (dict rows) running
ONE query that fetches exactly the columns the API returns for the same rows, then
json.dumps. Rounds are interleaved (view, floor, view, floor ...); the ratio of a
round is median(view) / median(floor); the figure is the median of the rounds.

Beside them, the view's own statements: the SQL the view sent for one request
(captured once after the warm-up: authentication, membership, lookups and content,
for the dashboard also its session), run again on a raw psycopg connection,
prepared, tuple rows, nothing else. Their ratio to the floor is what the database
alone costs the read; the rest is what everything else a request pays costs (WSGI,
middleware, the pool, DRF, model instances, serialization, rendering). For scale,
the least a request costs through the same handler and middleware: a Django view
answering `{}` with no query, and one making a single `SELECT 1` (a pooled
connection taken and given back).
"""

import argparse
import json
import statistics
import sys

from bench import common

REC_COLUMNS = (
    "r.id, r.content, r.status, r.context_hash, r.prompt_version, r.model, r.provider, "
    "r.generated_at, r.expires_at, r.last_presented_at, r.times_presented, r.started_at, "
    "r.completed_at, r.user_feedback, s.id AS step_id, s.slug AS step_slug, "
    "s.name AS step_name, d.slug AS domain_slug"
)
CONTENT_COLUMNS = (
    "status, context_hash, prompt_version, model, provider, generated_at, expires_at, "
    "last_presented_at, times_presented"
)


def floors(data) -> dict[str, tuple[str, tuple]]:
    company = data["company"].pk
    live = "('fresh', 'active')"
    recs = (
        f"SELECT {REC_COLUMNS} FROM recommendations_recommendation r "
        "LEFT JOIN recommendations_journeystep s ON s.id = r.step_id "
        "LEFT JOIN recommendations_journeydomain d ON d.id = s.domain_id "
        f"WHERE r.company_id = %s AND r.status IN {live} "
        "ORDER BY r.generated_at DESC, r.id DESC LIMIT %s"
    )
    insights = (
        "SELECT i.id, d.slug AS domain, i.step_id, i.content, i.author_profile, "
        f"i.relevance_score, i.{CONTENT_COLUMNS.replace(', ', ', i.')} "
        "FROM recommendations_insight i LEFT JOIN recommendations_journeydomain d "
        "ON d.id = i.domain_id "
        f"WHERE i.company_id = %s AND i.domain_id = %s AND i.status IN {live} "
        "ORDER BY i.relevance_score DESC, i.id DESC LIMIT 50"
    )
    health = (
        f"SELECT id, content, {CONTENT_COLUMNS} FROM recommendations_healthsummary "
        f"WHERE company_id = %s AND status IN {live} ORDER BY generated_at DESC LIMIT 1"
    )
    journey = (
        'SELECT d.id, d.slug, d.name, d."order", dp.maturity_level, s.id AS step_id, '
        's.slug AS step_slug, s.name AS step_name, s."order" AS step_order, p.status, '
        "p.started_at, p.completed_at FROM recommendations_journeydomain d "
        "JOIN recommendations_journeystep s ON s.domain_id = d.id "
        "LEFT JOIN recommendations_companystepprogress p "
        "ON p.step_id = s.id AND p.company_id = %s "
        "LEFT JOIN recommendations_companydomainprogress dp "
        "ON dp.domain_id = d.id AND dp.company_id = %s "
        'ORDER BY d."order", d.id, s."order", s.id'
    )
    deliverables = (
        "SELECT id, title, status, display_content, display_format, "
        "transformation_timestamp, content_transformation_status, display_quality_score, "
        "ai_confidence, auto_display_generated, updated_at FROM deliverables_deliverable "
        "WHERE workspace_id = %s ORDER BY id LIMIT 50"
    )
    n = data["recommendations"]
    return {
        "deliverables page of 50": [(deliverables, (data["workspace"].pk,))],
        "recommendations": [(recs, (company, n))],
        "insights": [(insights, (company, data["focus_domain"].pk))],
        "health": [(health, (company,))],
        "journey": [(journey, (company, company))],
        # The dashboard shows these four: the floor fetches them, one query each.
        "dashboard page": [
            (journey, (company, company)),
            (recs, (company, 3)),
            (insights.replace("LIMIT 50", "LIMIT 5"), (company, data["focus_domain"].pk)),
            (health, (company,)),
        ],
    }


class WsgiClient:
    """GET through django.core.handlers.wsgi.WSGIHandler, as a WSGI server calls it."""

    def __init__(self, **headers: str) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.headers = headers

    def get(self, url: str) -> tuple[int, bytes]:
        from io import BytesIO
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "wsgi.input": BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            **self.headers,
        }
        status = []
        response = self.handler(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            body = b"".join(response)
        finally:
            response.close()  # request_finished: the connection goes back to the pool
        return int(status[0].split()[0]), body


def run(iterations: int, rounds: int) -> tuple[list[dict], dict[str, float]]:
    url = common.bench_url()
    common.recreate(url)
    try:
        common.setup_django(url)
        return _run(url, iterations, rounds)
    finally:
        common.recreate(url, drop_only=True)


def _run(url: str, iterations: int, rounds: int) -> list[dict]:
    import psycopg
    from django.test import Client
    from django.urls import reverse
    from psycopg.rows import dict_row

    from generation.writebehind import discard_pending

    common.quiet_logs()
    data = common.make_data()
    company = data["company"]
    api = WsgiClient(HTTP_AUTHORIZATION=f"Token {data['token']}")
    login = Client()
    login.force_login(data["user"])
    page = WsgiClient(HTTP_COOKIE=f"sessionid={login.cookies['sessionid'].value}")
    views = {
        "deliverables page of 50": (
            api,
            f"/api/workspaces/{data['workspace'].pk}/deliverables/?page_size=50",
        ),
        "recommendations": (
            api,
            reverse("company-recommendations", args=[company.pk])
            + f"?limit={data['recommendations']}",
        ),
        "insights": (
            api,
            reverse("company-insights", args=[company.pk])
            + f"?domain={data['focus_domain'].pk}&page_size=50",
        ),
        "health": (api, reverse("company-health", args=[company.pk])),
        "journey": (api, reverse("company-journey", args=[company.pk])),
        "dashboard page": (page, reverse("company-dashboard", args=[company.pk])),
    }
    raw = psycopg.connect(url, autocommit=True, row_factory=dict_row)
    bare = psycopg.connect(url, autocommit=True)
    floor_queries = floors(data)

    def view_of(name):
        client, path = views[name]

        def view():
            status, body = client.get(path)
            assert status == 200, body[:500]
            return body

        return view

    def floor_of(name):
        def floor():
            fetched = []
            with raw.cursor() as cursor:
                for sql, params in floor_queries[name]:
                    cursor.execute(sql, params)
                    fetched.append(cursor.fetchall())
            return json.dumps(fetched, default=str).encode()

        return floor

    def statements_of(name):
        sent = sent_by(view_of(name))

        def statements():
            for sql, params in sent:
                bare.execute(sql, params, prepare=True).fetchall()

        return statements, len(sent)

    results = []
    for name in views:
        view, floor = view_of(name), floor_of(name)
        for _ in range(max(20, iterations // 10)):  # warm-up
            view()
            floor()
        statements, sent = statements_of(name)
        ratios, view_ms, floor_ms, statements_ms = [], [], [], []
        for _ in range(rounds):
            view_samples, floor_samples, statement_samples = [], [], []
            for _ in range(iterations):
                view_samples += common.timed(view, 1)
                floor_samples += common.timed(floor, 1)
                statement_samples += common.timed(statements, 1)
            view_ms.append(common.median_ms(view_samples))
            floor_ms.append(common.median_ms(floor_samples))
            statements_ms.append(common.median_ms(statement_samples))
            ratios.append(view_ms[-1] / floor_ms[-1])
            # The write-behind counts are not what is measured here, and the database
            # is dropped after the run: the flush thread must find nothing to write.
            discard_pending()
        results.append(
            {
                "read": name,
                "view_ms": statistics.median(view_ms),
                "floor_ms": statistics.median(floor_ms),
                "ratio": statistics.median(ratios),
                "statements": sent,
                "statements_ms": statistics.median(statements_ms),
                "statements_ratio": statistics.median(
                    s / f for s, f in zip(statements_ms, floor_ms, strict=True)
                ),
            }
        )
    raw.close()
    bare.close()
    return results, least_requests(api, iterations, rounds)


def least_requests(client: "WsgiClient", iterations: int, rounds: int) -> dict[str, float]:
    """Median ms of the cheapest requests through the same handler (bench/urls.py)."""
    least = {}
    for label, path in (
        ("empty Django view", "/bench/empty/"),
        ("one SELECT 1", "/bench/select-one/"),
    ):
        for _ in range(max(20, iterations // 10)):
            client.get(path)
        least[label] = statistics.median(
            common.median_ms(common.timed(lambda p=path: client.get(p), iterations))
            for _ in range(rounds)
        )
    return least


def sent_by(request) -> list[tuple[str, list]]:
    """The statements one call of `request` sends through psycopg, in order. Only
    reads: a cached read writes nothing (counts are written behind), so one that
    writes is an error here."""
    import psycopg

    sent = []
    execute = psycopg.Cursor.execute

    def recording(cursor, query, params=None, **kwargs):
        sent.append((query, params))
        return execute(cursor, query, params, **kwargs)

    psycopg.Cursor.execute = recording
    try:
        request()
    finally:
        psycopg.Cursor.execute = execute
    for query, _ in sent:
        if not query.lstrip().upper().startswith(("SELECT", "WITH")):
            raise RuntimeError(f"a cached read wrote: {query[:200]}")
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows, least = run(args.iterations, args.rounds)
    for label, ms in least.items():
        print(f"{label:<26} {ms:7.3f} ms")
    for row in rows:
        print(
            f"{row['read']:<26} view {row['view_ms']:7.3f} ms  floor {row['floor_ms']:6.3f} ms"
            f"  ratio {row['ratio']:5.2f}x  statements ({row['statements']}) "
            f"{row['statements_ms']:6.3f} ms = {row['statements_ratio']:4.2f}x floor, "
            f"rest {row['view_ms'] - row['statements_ms']:6.3f} ms"
        )


if __name__ == "__main__":
    main()
