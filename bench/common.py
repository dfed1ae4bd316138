"""What the read-path benches share: a database of their own, Django set up for it,
one company with content for every read, medians and ratios."""

import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/evergreen_bench_reads"


def bench_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    if "bench" not in urlparse(url).path:
        sys.exit("BENCH_DATABASE_URL must name a PostgreSQL database with 'bench' in its name.")
    return url


def close_django_connections() -> None:
    """Close this process's connections and its pool (the database is about to go)."""
    if "django" not in sys.modules:
        return
    from django.conf import settings

    if not settings.configured:
        return
    from django.db import connections

    for conn in connections.all():
        conn.close()
        if hasattr(conn, "close_pool"):
            conn.close_pool()


def recreate(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    close_django_connections()

    name = urlparse(url).path.lstrip("/")
    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str, **env: str) -> None:
    """Production settings (DEBUG off: no query log) on the bench database."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("EVERGREEN_MODE", "development")
    os.environ["DEBUG"] = "False"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("EVERGREEN_PROVIDER", "offline")
    os.environ.setdefault("GENERATION_THROTTLE_RATE", "1000000/minute")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def quiet_logs() -> None:
    """Keep log lines (their formatting is part of a request's cost) off the terminal."""
    import logging

    devnull = open(os.devnull, "w")  # noqa: SIM115
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(func, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return samples


def make_data(*, deliverables: int = 50, recommendations: int = 10, insights: int = 20):
    """One company, its editor with a token, a journey of 2 domains x 5 steps (3
    completed), `recommendations` active recommendations of the current context,
    `insights` active insights of the next step's domain, a health summary, and a
    workspace of `deliverables` cached deliverables. Returns a dict of what was made."""
    from datetime import timedelta

    from django.core.management import call_command
    from django.db.models import F
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from companies.services import create_api_user
    from deliverables.models import Deliverable, DeliverableStatus, TransformationStatus, Workspace
    from deliverables.schemas import DeliverableDisplay
    from deliverables.services import PROMPT_KEY as DISPLAY_PROMPT_KEY
    from deliverables.services import create_deliverable, display_inputs
    from generation.models import Prompt
    from recommendations import services
    from recommendations.lifecycle import Status
    from recommendations.models import (
        HealthSummary,
        Insight,
        JourneyDomain,
        JourneyStep,
        Recommendation,
    )

    call_command("migrate", verbosity=0)
    membership, _ = create_api_user(username="bench", company_name="Bench Co", role="editor")
    company, user = membership.company, membership.user
    token, _ = Token.objects.get_or_create(user=user)
    steps = []
    for d in range(2):
        domain = JourneyDomain.objects.create(slug=f"domain-{d}", name=f"Domain {d}", order=d)
        for s in range(5):
            steps.append(
                JourneyStep.objects.create(
                    domain=domain, slug=f"step-{s}", name=f"Step {s}", order=s, description="Do."
                )
            )
    for step in steps[:3]:
        services.update_step_progress(company=company, step=step, status="completed")
    context = services.current_snapshot(company=company).context_hash
    now = timezone.now()

    def provenance(kind):
        prompt = Prompt.objects.get(key=kind, is_active=True)
        return {
            "company": company,
            "context_hash": context,
            "status": Status.ACTIVE,
            "prompt": prompt,
            "prompt_version": prompt.version,
            "model": "offline",
            "provider": "offline",
            "generated_at": now,
            "expires_at": now + timedelta(days=14),
            "last_presented_at": now,
            "times_presented": 1,
        }

    for n in range(recommendations):
        Recommendation.objects.create(
            step=steps[n % len(steps)],
            content={
                "title": f"Recommendation {n}",
                "summary": "Automate the weekly report and review it with the team.",
                "actions": ["List the sources", "Schedule the export", "Share the dashboard"],
            },
            **provenance("recommendation"),
        )
    focus = steps[3].domain
    for n in range(insights):
        Insight.objects.create(
            domain=focus,
            content=f"Insight {n}: teams that automated reporting first moved faster.",
            author_profile={"name": "Pat", "role": "Founder", "company": "Peer Co"},
            relevance_score=0.5 + n / (2 * insights),
            **provenance("insight"),
        )
    HealthSummary.objects.create(
        content={"score": 72, "headline": "On track", "summary": "Three steps done, two to go."},
        **provenance("health_summary"),
    )
    workspace = Workspace.objects.create(company=company, name="Bench")
    for n in range(deliverables):
        content = {
            "summary": f"Quarterly findings {n}: churn fell 3 points after onboarding changes.",
            "sections": [
                {"heading": "Context", "body": "Teams re-created reports by hand each week."},
                {"heading": "Result", "body": "Six hours saved per analyst and week."},
            ],
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
            transformation_timestamp=now,
            content_transformation_status=TransformationStatus.SUCCESS,
            display_source_hash=F("content_hash"),
            # Made by the active display prompt: current, so the listing serves it.
            display_prompt=Prompt.objects.get(key=DISPLAY_PROMPT_KEY, is_active=True),
        )
    return {
        "company": company,
        "user": user,
        "token": token.key,
        "workspace": workspace,
        "focus_domain": focus,
        "recommendations": recommendations,
    }


def percentile(samples: list[float], p: float) -> float:
    """The sample at the p-th percentile (nearest rank); NaN for no samples."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_up(base: str, proc, *, seconds: float, interval: float = 0.1) -> None:
    """Until the server at `base` answers /api/health/ with 200; raises if its process
    exits first or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/health/", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"server not up after {seconds:.0f}s")
