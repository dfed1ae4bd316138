"""N concurrent identical requests, across processes, cause exactly one provider call."""

import json
import sys
import time
from contextlib import ExitStack

import pytest

from generation.flight import Source, get_or_generate
from generation.models import Generation, GenerationLog, GenerationStatus, Outcome
from tests.builders import make_company, make_prompt
from tests.processes import child_env, started

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_workers(
    *, processes: int, threads: int, prompt_key: str, company_id: int, die: bool = False, **env
) -> list[dict]:
    start_at = time.time() + 2.0  # let the interpreters boot, then start together
    args = [sys.executable, "-m", "tests.generation.flight_worker", prompt_key]
    args += [str(company_id), str(threads), str(start_at)] + (["--die"] if die else [])
    rows = []
    with ExitStack() as stack:
        procs = [stack.enter_context(started(args, env=child_env(**env))) for _ in range(processes)]
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == (17 if die else 0), out
            rows += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return rows


def test_twenty_threads_in_two_processes_make_exactly_one_provider_call(fake_openai):
    company = make_company()
    make_prompt(key="flight")
    fake_openai.delay(0.5)  # the winner's call is slow, so everyone else must wait for it

    rows = run_workers(processes=2, threads=10, prompt_key="flight", company_id=company.pk)

    assert len(rows) == 20
    assert [r for r in rows if "error" in r] == []
    assert fake_openai.calls == 1
    assert len({r["generation"] for r in rows}) == 1
    assert len({r["content"] for r in rows}) == 1
    sources = [r["source"] for r in rows]
    assert sources.count(Source.GENERATED) == 1
    assert GenerationLog.objects.filter(outcome=Outcome.SUCCESS).count() == 1

    again = run_workers(processes=2, threads=10, prompt_key="flight", company_id=company.pk)
    assert {r["source"] for r in again} == {Source.CACHE}
    assert fake_openai.calls == 1


def test_a_worker_that_dies_holding_the_claim_is_taken_over_after_its_lease(provider):
    company = make_company()
    make_prompt(key="flight")

    run_workers(
        processes=1,
        threads=1,
        prompt_key="flight",
        company_id=company.pk,
        die=True,
        GENERATION_LEASE_SECONDS="2",
    )
    orphan = Generation.objects.get()
    assert orphan.status == GenerationStatus.PENDING  # the dead worker's claim is still there

    started_at = time.monotonic()
    result = get_or_generate(
        kind="flight",
        scope=f"company:{company.pk}",
        prompt_key="flight",
        inputs={"topic": "single flight"},
        company_id=company.pk,
    )
    assert result.source == Source.GENERATED
    assert result.generation.pk == orphan.pk
    assert provider.calls == 1
    assert time.monotonic() - started_at < 10
    orphan.refresh_from_db()
    assert orphan.status == GenerationStatus.COMPLETED
