"""The cached reads of one company at a small and a large table size.

    .venv/bin/python -m bench.scale [--small 10000] [--large 1000000] [--iterations 300]

(`BENCH_SCALE_LARGE=10000000` or `--large 10000000` for the 10M run.) One PostgreSQL
database of its own (BENCH_DATABASE_URL, created and dropped; `--keep` leaves it).

The read company is the one bench/common.py makes (10 live recommendations, 20
live insights, a health summary, a journey). Around it, filler companies are added
straight in SQL (`INSERT ... SELECT` over generate_series, no ORM, no Python per row)
until the three content tables (recommendations, insights, health summaries) hold
`--small` rows in all; then ANALYZE and the reads are timed; then filler is added
up to `--large` rows, ANALYZE, and the same reads are timed again. Every filler
company holds FILL_PER_COMPANY rows like a company with some history: 10 live and
50 stale recommendations, 20 live and 15 stale insights, 1 live and 4 stale health
summaries, each of its own context. The read company gets the same stale history,
so its rows are typical and what it serves does not change with the size.

Each read goes through Django's WSGI handler in this process (bench/reads.py's
WsgiClient: middleware, token or session auth, the cached lookups, selection,
serialization), reads interleaved, `--iterations` samples each per size, after a
warm-up. Printed: p50 and p95 per read at each size and the ratio large / small
(goal: the p50 at the large size within 1.2x of the small one), the fill times, and
for every statement a read sends the access path PostgreSQL chose at the large size
(EXPLAIN ANALYZE: index or sequential scan per table, rows read).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from bench.reads import WsgiClient, sent_by

GOAL_RATIO = 1.2
CONTROL = "control: SELECT 1 request"
# Per filler company: (table, live rows, stale rows).
MIX = (
    ("recommendations_recommendation", 10, 50),
    ("recommendations_insight", 20, 15),
    ("recommendations_healthsummary", 1, 4),
)
FILL_PER_COMPANY = sum(live + stale for _, live, stale in MIX)
CONTENT_TABLES = tuple(table for table, _, _ in MIX)
# Companies added per INSERT statement (each statement its own transaction).
FILL_BATCH = 20_000

COMMON_COLUMNS = (
    "company_id, context_hash, status, prompt_id, prompt_version, model, provider, "
    "generated_at, expires_at, stale_at, last_presented_at, times_presented, revision"
)


def _common_values(kind_prompt: int, live: int) -> str:
    """Values of the GeneratedContent columns for row k of company c (SQL over c, k)."""
    return (
        "c.id, md5(c.id::text || ':' || k::text) || md5(k::text), "
        f"CASE WHEN k <= {live} THEN 'active' ELSE 'stale' END, "
        f"{kind_prompt}, 1, 'offline', 'offline', "
        "now() - make_interval(hours => k), now() + interval '14 days', "
        f"CASE WHEN k <= {live} THEN NULL ELSE now() - make_interval(hours => k) END, "
        "now(), 1, 0"
    )


def _fill_sql(prompts: dict[str, int], steps: list[int], domains: list[int]) -> list[str]:
    """One INSERT per content table for the companies in the temp table `filler`."""
    steps_array = "ARRAY[" + ",".join(map(str, steps)) + "]"
    domains_array = "ARRAY[" + ",".join(map(str, domains)) + "]"
    (rec, rec_live, rec_stale), (ins, ins_live, ins_stale), (hs, hs_live, hs_stale) = MIX
    return [
        f"INSERT INTO {rec} ({COMMON_COLUMNS}, step_id, content) "
        f"SELECT {_common_values(prompts['recommendation'], rec_live)}, "
        f"({steps_array})[1 + k % {len(steps)}], "
        "jsonb_build_object('title', 'Recommendation ' || k, "
        "'summary', 'Automate the weekly report and review it with the team.', "
        "'actions', jsonb_build_array('List the sources', 'Schedule the export')) "
        f"FROM filler c CROSS JOIN generate_series(1, {rec_live + rec_stale}) k",
        f"INSERT INTO {ins} ({COMMON_COLUMNS}, domain_id, content, author_profile, "
        "relevance_score) "
        f"SELECT {_common_values(prompts['insight'], ins_live)}, "
        f"({domains_array})[1 + k % {len(domains)}], "
        "'Insight ' || k || ': teams that automated reporting first moved faster.', "
        '\'{"name": "Pat", "role": "Founder", "company": "Peer Co"}\'::jsonb, '
        "0.5 + (k % 50) / 100.0 "
        f"FROM filler c CROSS JOIN generate_series(1, {ins_live + ins_stale}) k",
        f"INSERT INTO {hs} ({COMMON_COLUMNS}, content) "
        f"SELECT {_common_values(prompts['health_summary'], hs_live)}, "
        '\'{"score": 72, "headline": "On track", "summary": "Steady."}\'::jsonb '
        f"FROM filler c CROSS JOIN generate_series(1, {hs_live + hs_stale}) k",
    ]


def _stale_history_sql(prompts: dict[str, int], steps: list[int], domains: list[int]) -> list:
    """The read company's history: the filler's stale rows only (k past the live ones)."""
    history = []
    for (_table, live, stale), sql in zip(MIX, _fill_sql(prompts, steps, domains), strict=True):
        history.append(
            sql.replace(
                f"generate_series(1, {live + stale})",
                f"generate_series({live + 1}, {live + stale})",
            )
        )
    return history


# Each filler company has an editor with a token, so the authentication and membership
# lookups every read makes run on tables of the same scale as the companies.
PEOPLE_SQL = (
    "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
    "is_staff, is_active, date_joined) "
    "SELECT '!', false, 'filler-' || id, '', '', '', false, true, now() FROM filler",
    "INSERT INTO companies_membership (role, created_at, company_id, user_id) "
    "SELECT 'editor', now(), f.id, u.id FROM filler f "
    "JOIN auth_user u ON u.username = 'filler-' || f.id",
    "INSERT INTO authtoken_token (key, created, user_id) "
    "SELECT md5(u.id::text) || left(md5(u.username), 8), now(), u.id FROM filler f "
    "JOIN auth_user u ON u.username = 'filler-' || f.id",
)


def content_rows(conn) -> int:
    return sum(
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in CONTENT_TABLES
    )


def grow(conn, *, to_rows: int, sql: list[str], batch: int = FILL_BATCH) -> float:
    """Add filler companies and their rows until the content tables hold about
    `to_rows` rows; ANALYZE. Returns the seconds it took."""
    started = time.monotonic()
    missing = max(0, to_rows - content_rows(conn))
    companies = -(-missing // FILL_PER_COMPANY)
    done = 0
    while done < companies:
        n = min(batch, companies - done)
        with conn.transaction():
            (before,) = conn.execute(
                "SELECT coalesce(max(id), 0) FROM companies_company"
            ).fetchone()
            conn.execute(
                "INSERT INTO companies_company (name, slug, created_at, read_version) "
                "SELECT 'Filler ' || s, 'filler-' || s, now(), 0 "
                "FROM generate_series(%s::bigint + 1, %s::bigint + %s) s",
                [before, before, n],
            )
            conn.execute(
                "CREATE TEMP TABLE filler ON COMMIT DROP AS "
                "SELECT id FROM companies_company WHERE id > %s",
                [before],
            )
            for statement in (*PEOPLE_SQL, *sql):
                conn.execute(statement)
        done += n
        print(
            f"  filled {done:,}/{companies:,} companies ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
    conn.execute("ANALYZE")
    return time.monotonic() - started


# --- the reads ------------------------------------------------------------------------


def read_paths(data) -> dict[str, tuple[str, str]]:
    """name -> (client, path): the API's cached reads of the company and its page."""
    from django.urls import reverse

    company = data["company"]
    return {
        "recommendations (10)": (
            "api",
            reverse("company-recommendations", args=[company.pk]) + "?limit=10",
        ),
        "insights (20)": (
            "api",
            reverse("company-insights", args=[company.pk])
            + f"?domain={data['focus_domain'].pk}&page_size=20",
        ),
        "health": ("api", reverse("company-health", args=[company.pk])),
        "journey": ("api", reverse("company-journey", args=[company.pk])),
        "dashboard page": ("page", reverse("company-dashboard", args=[company.pk])),
        # The control: the same server, one SELECT 1, no content table.
        CONTROL: ("api", "/bench/select-one/"),
    }


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k] * 1000


def plan_facts(url: str, statements: list[tuple[str, list]]) -> list[str]:
    """Per statement: how each table was reached (EXPLAIN ANALYZE at this size)."""
    import psycopg

    facts = []
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = psycopg.ClientCursor(conn)
        for sql, params in statements:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0][0]
            nodes: list[str] = []

            def walk(node, nodes=nodes):
                relation = node.get("Relation Name")
                if relation is None and node.get("Index Name"):  # a bitmap's index
                    nodes.append(f"{node['Node Type']} {node['Index Name']}")
                elif relation:
                    how = node["Node Type"]
                    if node.get("Index Name"):
                        how += f" {node['Index Name']}"
                    nodes.append(f"{relation}: {how} ({node.get('Actual Rows', '?')} rows)")
                for child in node.get("Plans", ()):
                    walk(child)

            walk(plan["Plan"])
            tables = " ".join(sql.split("FROM", 1)[-1].split()[:1]).strip('"')
            facts.append(
                f"{tables} [{plan['Execution Time']:.2f} ms]: " + "; ".join(nodes or ["no table"])
            )
    return facts


# --- one database: made, filled, its read company's paths (a process of its own) -------


def prepare(url: str, rows: int) -> dict:
    """Create the database, the read company and its history, fill to `rows`; return
    what the timing needs (token, session, paths) and the large reads' plans."""
    import psycopg

    common.recreate(url)
    common.setup_django(url)
    common.quiet_logs()
    from django.db import connections
    from django.test import Client

    from generation.models import Prompt
    from recommendations.models import JourneyDomain, JourneyStep

    data = common.make_data()
    prompts = {
        key: Prompt.objects.get(key=key, is_active=True).pk
        for key in ("recommendation", "insight", "health_summary")
    }
    steps = list(JourneyStep.objects.order_by("pk").values_list("pk", flat=True))
    domains = list(JourneyDomain.objects.order_by("pk").values_list("pk", flat=True))
    login = Client()
    login.force_login(data["user"])
    session = login.cookies["sessionid"].value
    paths = read_paths(data)
    connections.close_all()
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(
                "CREATE TEMP TABLE filler ON COMMIT DROP AS SELECT %s::bigint AS id",
                [data["company"].pk],
            )
            for statement in _stale_history_sql(prompts, steps, domains):
                conn.execute(statement)
        fill_seconds = grow(conn, to_rows=rows, sql=_fill_sql(prompts, steps, domains))
        table_mb = {
            table: float(
                conn.execute(
                    "SELECT pg_total_relation_size(%s::regclass) / 1048576.0", [table]
                ).fetchone()[0]
            )
            for table in CONTENT_TABLES
        }
        total = content_rows(conn)
    headers = {
        "api": {"HTTP_AUTHORIZATION": f"Token {data['token']}"},
        "page": {"HTTP_COOKIE": f"sessionid={session}"},
    }
    plans = {}
    for name, (client, path) in paths.items():
        wsgi = WsgiClient(**headers[client])
        wsgi.get(path)  # the lookups cached, as the timed reads find them
        plans[name] = plan_facts(url, sent_by(lambda w=wsgi, p=path: w.get(p)))
    connections.close_all()
    return {
        "rows": total,
        "fill_seconds": fill_seconds,
        "table_mb": table_mb,
        "token": data["token"],
        "session": session,
        "paths": paths,
        "plans": plans,
    }


def prepare_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    Path(args.out).write_text(json.dumps(prepare(args.url, args.rows)))


# --- the timing: two servers, one per size, requests interleaved --------------------------


def _prepared(url: str, rows: int, out: Path) -> dict:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.scale",
            "prepare",
            "--url",
            url,
            "--rows",
            str(rows),
            "--out",
            str(out),
        ],
        cwd=common.ROOT,
        check=True,
    )
    return json.loads(out.read_text())


def _get(conn, path: str, headers: dict) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status} {body[:300]!r}")
    return elapsed


def time_both(servers: dict[str, tuple[str, dict]], iterations: int) -> dict:
    """p50/p95 ms per read and size; each read's requests alternate between the two
    servers (which goes first alternates too), so both sizes see the same machine."""
    from http.client import HTTPConnection

    conns, headers = {}, {}
    for size, (base, info) in servers.items():
        conns[size] = HTTPConnection(base.removeprefix("http://"), timeout=30)
        headers[size] = {
            "api": {"Authorization": f"Token {info['token']}"},
            "page": {"Cookie": f"sessionid={info['session']}"},
        }
    paths = {size: info["paths"] for size, (_, info) in servers.items()}
    names = list(paths["small"])
    samples = {size: {name: [] for name in names} for size in servers}
    loads = []
    for n in range(30 + iterations):
        order = ("small", "large") if n % 2 else ("large", "small")
        for name in names:
            for size in order:
                client, path = paths[size][name]
                elapsed = _get(conns[size], path, headers[size][client])
                if n >= 30:  # after the warm-up: caches filled, pages in shared buffers
                    samples[size][name].append(elapsed)
        if n % 50 == 0:
            loads.append(os.getloadavg()[0])
    for conn in conns.values():
        conn.close()
    return {
        "times": {
            size: {name: {"p50": _pct(v, 50), "p95": _pct(v, 95)} for name, v in by.items()}
            for size, by in samples.items()
        },
        "load": statistics.median(loads),
    }


def run(small: int, large: int, iterations: int, keep: bool = False) -> dict:
    from bench.http_list import _serve, _stop

    base_url = common.bench_url()
    urls = {"small": base_url + "_small", "large": base_url + "_large"}
    tmp = Path(tempfile.mkdtemp(prefix="evergreen-bench-scale-"))
    procs = []
    try:
        info = {
            size: _prepared(urls[size], rows, tmp / f"{size}.json")
            for size, rows in (("small", small), ("large", large))
        }
        servers = {}
        for size in ("small", "large"):
            proc, base, log = _serve(urls[size], 1, {})
            procs.append((proc, log))
            servers[size] = (base, info[size])
        timed = time_both(servers, iterations)
        return {**timed, "info": info}
    finally:
        for proc, log in procs:
            _stop(proc)
            log.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        if not keep:
            for url in urls.values():
                common.recreate(url, drop_only=True)


def report(result: dict) -> bool:
    info, times = result["info"], result["times"]
    print(
        f"\nContent rows (recommendations + insights + health summaries): small "
        f"{info['small']['rows']:,}, large {info['large']['rows']:,}; "
        f"{FILL_PER_COMPANY} per filler company"
    )
    print(
        f"Fill (INSERT ... SELECT generate_series, then ANALYZE): small "
        f"{info['small']['fill_seconds']:.1f} s, large {info['large']['fill_seconds']:.1f} s"
    )
    print(
        "Tables at the large size: "
        + ", ".join(
            f"{t.split('_', 1)[1]} {mb:,.0f} MB" for t, mb in info["large"]["table_mb"].items()
        )
    )
    print(
        f"Two uvicorn servers (1 worker each, one per size), requests alternating; load "
        f"average (1 min) while timing {result['load']:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"\n| read | p50 small ms | p95 small ms | p50 large ms | p95 large ms | p50 ratio "
        f"| p95 ratio | goal p50 ratio <= {GOAL_RATIO}x |"
    )
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for name, s in times["small"].items():
        big = times["large"][name]
        ratio = big["p50"] / s["p50"]
        met = ratio <= GOAL_RATIO
        ok &= met or name == CONTROL
        print(
            f"| {name} | {s['p50']:.2f} | {s['p95']:.2f} | {big['p50']:.2f} | {big['p95']:.2f} "
            f"| {ratio:.2f}x | {big['p95'] / s['p95']:.2f}x "
            f"| {'-' if name == CONTROL else ('yes' if met else 'NO')} |"
        )
    print("\nAccess paths at the large size (EXPLAIN ANALYZE of each statement a read sends):")
    for name, facts in info["large"]["plans"].items():
        print(f"- {name}:")
        for fact in facts:
            print(f"    {fact}")
    return ok


def main() -> None:
    if sys.argv[1:2] == ["prepare"]:
        prepare_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument(
        "--large", type=int, default=int(os.environ.get("BENCH_SCALE_LARGE", 1_000_000))
    )
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="leave the databases in place")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores; databases {common.bench_url().rsplit('/', 1)[1]}"
        "_small and _large"
    )
    result = run(args.small, args.large, args.iterations, keep=args.keep)
    raise SystemExit(0 if report(result) else 1)


if __name__ == "__main__":
    main()
