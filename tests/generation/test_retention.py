import importlib
import itertools
import time
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from generation import retention, tasks
from generation.errors import ProviderError
from generation.flight import Source, get_or_generate
from generation.models import Chunk, Generation, GenerationLog, GenerationStatus, HitCounter
from generation.streams import start_attempt
from tests.builders import make_prompt

COMPLETED, FAILED = GenerationStatus.COMPLETED, GenerationStatus.FAILED
PENDING, STREAMING = GenerationStatus.PENDING, GenerationStatus.STREAMING

_keys = itertools.count(1)


@pytest.fixture
def prompt(db):
    return make_prompt(key="story", template="Tell {{ topic }}.")


def make_generation(
    *,
    company,
    prompt,
    status=COMPLETED,
    ago=timedelta(days=0),
    kind="story",
    scope=None,
    chunks=0,
    lease_for=None,
):
    """A generation last changed `ago` (completed then, when completed), with `chunks`
    chunks written when it was; `lease_for` gives it a live lease (a refresh claimed)."""
    when = timezone.now() - ago
    generation = Generation.objects.create(
        kind=kind,
        scope=scope or f"company:{company.pk}",
        context_hash=f"{next(_keys):064d}",
        company=company,
        prompt=prompt,
        status=status,
        text="the whole text" if status == COMPLETED else "",
        owner="someone" if status in (PENDING, STREAMING) or lease_for else "",
        lease_expires_at=timezone.now() + lease_for if lease_for else None,
        created_at=when,
        updated_at=when,
        completed_at=when if status == COMPLETED else None,
    )
    Chunk.objects.bulk_create(
        Chunk(generation=generation, seq=seq, text=f"piece {seq} ", created_at=when)
        for seq in range(chunks)
    )
    return generation


def make_log(*, company, ago=timedelta(days=0), generation=None):
    return GenerationLog.objects.create(
        kind="story",
        company=company,
        generation=generation,
        provider="offline",
        model="offline",
        outcome="success",
        created_at=timezone.now() - ago,
    )


def chunk_count(generation) -> int:
    return Chunk.objects.filter(generation=generation).count()


def remaining(*generations) -> set[int]:
    return set(
        Generation.objects.filter(pk__in=[g.pk for g in generations]).values_list("pk", flat=True)
    )


# --- chunks ---------------------------------------------------------------------------


def test_chunks_of_a_generation_finished_longer_ago_than_the_grace_are_gone_after_the_task_runs(
    company, prompt, provider
):
    streamed = get_or_generate(
        kind="story",
        scope=f"company:{company.pk}",
        prompt_key="story",
        inputs={"topic": "growth"},
        company_id=company.pk,
        stream=True,
    ).generation
    assert chunk_count(streamed) > 0
    two_hours_ago = timezone.now() - timedelta(hours=2)
    Generation.objects.filter(pk=streamed.pk).update(
        updated_at=two_hours_ago, completed_at=two_hours_ago
    )
    failed = make_generation(
        company=company, prompt=prompt, status=FAILED, ago=timedelta(hours=2), chunks=3
    )

    report = tasks.purge()

    assert chunk_count(streamed) == 0 and chunk_count(failed) == 0
    assert report["chunks_deleted"] >= 4
    # The text a reader needs is on the generation, and it is still served from cache.
    again = get_or_generate(
        kind="story",
        scope=f"company:{company.pk}",
        prompt_key="story",
        inputs={"topic": "growth"},
        company_id=company.pk,
        stream=True,
    )
    assert again.source == Source.CACHE
    assert again.content == streamed.text != ""
    assert provider.calls == 1


def test_a_stream_started_again_after_its_chunks_went_numbers_on_after_them(company, prompt):
    failed = make_generation(
        company=company, prompt=prompt, status=FAILED, ago=timedelta(hours=2), chunks=5
    )
    completed = make_generation(company=company, prompt=prompt, ago=timedelta(hours=2), chunks=3)

    assert retention.purge().chunks_deleted == 8
    failed.refresh_from_db()
    assert failed.stream_start_seq == 5

    # Taken over (or refreshed): the new attempt starts above every seq a reader saw.
    assert start_attempt(generation=failed) == 5
    assert start_attempt(generation=completed) == 3


@pytest.mark.parametrize("status", [PENDING, STREAMING])
def test_chunks_of_a_generation_in_progress_are_never_touched_however_old(company, prompt, status):
    ancient = make_generation(
        company=company, prompt=prompt, status=status, ago=timedelta(days=400), chunks=5
    )
    # Even with its lease run out (its owner died): a taker-over restarts the stream.
    Generation.objects.filter(pk=ancient.pk).update(
        lease_expires_at=timezone.now() - timedelta(days=399)
    )

    report = retention.purge()

    assert chunk_count(ancient) == 5
    assert remaining(ancient) == {ancient.pk}
    assert report.chunks_deleted == report.generations_deleted == 0


def test_chunks_of_a_generation_finished_inside_the_grace_are_kept(company, prompt, settings):
    settings.EVERGREEN_CHUNK_GRACE = timedelta(minutes=60)
    recent = make_generation(company=company, prompt=prompt, ago=timedelta(minutes=30), chunks=4)
    failed_recently = make_generation(
        company=company, prompt=prompt, status=FAILED, ago=timedelta(minutes=59), chunks=2
    )
    # Finished long ago, but a refresh has claimed it and is about to stream again.
    being_refreshed = make_generation(
        company=company, prompt=prompt, ago=timedelta(days=2), chunks=3, lease_for=timedelta(days=1)
    )

    assert retention.purge().chunks_deleted == 0
    assert (chunk_count(recent), chunk_count(failed_recently), chunk_count(being_refreshed)) == (
        4,
        2,
        3,
    )

    settings.EVERGREEN_CHUNK_GRACE = timedelta(minutes=10)
    assert retention.purge().chunks_deleted == 6
    assert chunk_count(recent) == chunk_count(failed_recently) == 0
    assert chunk_count(being_refreshed) == 3


def test_the_chunk_grace_defaults_to_an_hour_and_reads_its_environment_variable(
    settings, monkeypatch
):
    del settings.EVERGREEN_CHUNK_GRACE  # not set: the environment, then 60 minutes
    monkeypatch.delenv("CHUNK_GRACE_MINUTES", raising=False)
    assert retention.chunk_grace() == timedelta(minutes=60)

    monkeypatch.setenv("CHUNK_GRACE_MINUTES", "15")
    assert retention.chunk_grace() == timedelta(minutes=15)


# --- logs and hit counters ----------------------------------------------------------------


def test_old_logs_and_hit_counters_are_gone_and_recent_ones_kept(company, prompt, settings):
    settings.EVERGREEN_RETENTION_DAYS = 90
    old_log = make_log(company=company, ago=timedelta(days=91))
    recent_log = make_log(company=company, ago=timedelta(days=89))
    today = timezone.localdate()
    old_hits = HitCounter.objects.create(day=today - timedelta(days=91), kind="story", hits=3)
    recent_hits = HitCounter.objects.create(day=today - timedelta(days=89), kind="story", hits=3)
    todays_hits = HitCounter.objects.create(day=today, kind="story", company=company, hits=1)

    report = retention.purge()

    assert (report.logs_deleted, report.hit_counters_deleted) == (1, 1)
    assert set(GenerationLog.objects.values_list("pk", flat=True)) == {recent_log.pk}
    assert set(HitCounter.objects.values_list("pk", flat=True)) == {recent_hits.pk, todays_hits.pk}
    assert not GenerationLog.objects.filter(pk=old_log.pk).exists()
    assert not HitCounter.objects.filter(pk=old_hits.pk).exists()


# --- generations ----------------------------------------------------------------------------


def test_the_last_good_generation_of_a_key_is_kept_while_older_ones_go(company, prompt, provider):
    scope = f"company:{company.pk}"
    oldest = make_generation(company=company, prompt=prompt, ago=timedelta(days=300), chunks=2)
    older = make_generation(company=company, prompt=prompt, ago=timedelta(days=200))
    last_good = make_generation(company=company, prompt=prompt, ago=timedelta(days=150))
    # Newer than the last good one, but failed: never served, and old enough to go.
    failed = make_generation(company=company, prompt=prompt, status=FAILED, ago=timedelta(days=120))
    # Another kind in the same scope has its own last good content.
    other_kind = make_generation(
        company=company, prompt=prompt, kind="summary", ago=timedelta(days=400)
    )
    # Superseded, but inside the retention window: kept.
    recent_superseded = make_generation(
        company=company, prompt=prompt, kind="brief", ago=timedelta(days=20)
    )
    recent_last = make_generation(
        company=company, prompt=prompt, kind="brief", ago=timedelta(days=10)
    )
    # A recent log of a deleted generation stays, without its link.
    log = make_log(company=company, generation=oldest)

    report = retention.purge()

    assert report.generations_deleted == 3
    assert remaining(oldest, older, last_good, failed, other_kind) == {
        last_good.pk,
        other_kind.pk,
    }
    assert remaining(recent_superseded, recent_last) == {recent_superseded.pk, recent_last.pk}
    log.refresh_from_db()
    assert log.generation_id is None
    assert not Chunk.objects.filter(generation_id=oldest.pk).exists()

    # The provider is down for new inputs: the kept one is the fallback.
    provider.fail_with = ProviderError("down", transient=False)
    result = get_or_generate(kind="story", scope=scope, prompt_key="story", inputs={"topic": "new"})
    assert result.source == Source.FALLBACK
    assert result.generation.pk == last_good.pk


def test_a_domain_row_of_a_deleted_generation_stays_with_its_link_emptied(company, prompt):
    from tests.recommendations.builders import make_recommendation

    superseded = make_generation(
        company=company, prompt=prompt, kind="recommendation", ago=timedelta(days=200)
    )
    make_generation(company=company, prompt=prompt, kind="recommendation", ago=timedelta(days=100))
    row = make_recommendation(company=company, context_hash="c" * 64, generation=superseded)

    assert retention.purge().generations_deleted == 1

    row.refresh_from_db()
    assert row.generation_id is None
    assert row.content


def test_old_generations_in_progress_are_never_deleted(company, prompt):
    make_generation(company=company, prompt=prompt, ago=timedelta(days=300))
    stuck = [
        make_generation(company=company, prompt=prompt, status=status, ago=timedelta(days=200))
        for status in (PENDING, STREAMING)
    ]
    claimed = make_generation(
        company=company, prompt=prompt, ago=timedelta(days=250), lease_for=timedelta(minutes=1)
    )

    retention.purge()

    assert remaining(*stuck, claimed) == {g.pk for g in [*stuck, claimed]}


# --- the whole run --------------------------------------------------------------------------


def fill_everything(company, prompt) -> None:
    for days in (300, 200, 100):
        make_generation(company=company, prompt=prompt, ago=timedelta(days=days), chunks=3)
    make_generation(company=company, prompt=prompt, status=FAILED, ago=timedelta(hours=3), chunks=3)
    make_generation(
        company=company, prompt=prompt, status=STREAMING, ago=timedelta(days=200), chunks=3
    )
    for days in (120, 100, 1):
        make_log(company=company, ago=timedelta(days=days))
        HitCounter.objects.create(
            day=timezone.localdate() - timedelta(days=days), kind="story", hits=1
        )


def test_a_second_run_deletes_nothing(company, prompt):
    fill_everything(company, prompt)

    first = retention.purge()
    second = retention.purge()

    assert first.as_dict() == {
        "chunks_deleted": 12,
        "logs_deleted": 2,
        "hit_counters_deleted": 2,
        "generations_deleted": 2,
    }
    assert second.total == 0


def test_small_batches_delete_the_same_rows_as_one_batch(company, prompt):
    fill_everything(company, prompt)

    report = retention.purge(batch_size=2)

    assert report.as_dict() == {
        "chunks_deleted": 12,
        "logs_deleted": 2,
        "hit_counters_deleted": 2,
        "generations_deleted": 2,
    }
    assert Chunk.objects.count() == 3  # the streaming generation's
    assert Generation.objects.count() == 3


def test_the_schedule_exists_once_after_migrations_and_registering_again_does_not_duplicate(db):
    migration = importlib.import_module("generation.migrations.0007_maintenance_schedule_name")

    rows = Schedule.objects.filter(func="generation.tasks.purge")
    assert [(s.name, s.schedule_type, s.repeats) for s in rows] == [
        ("maintenance: generation retention", Schedule.HOURLY, -1)
    ]

    migration.register(django_apps, None)
    migration.register(django_apps, None)

    assert Schedule.objects.filter(func="generation.tasks.purge").count() == 1
    assert callable(tasks.purge)


def test_unregistering_the_schedule_removes_it(db):
    for name in ("0007_maintenance_schedule_name", "0004_retention_schedule"):
        importlib.import_module(f"generation.migrations.{name}").unregister(django_apps, None)

    assert not Schedule.objects.filter(func="generation.tasks.purge").exists()


# --- 100,000 chunks -------------------------------------------------------------------------


@pytest.mark.slow
def test_purge_over_100000_chunks_deletes_exactly_the_finished_ones(company, prompt, settings):
    """1,000 generations of 100 chunks: 600 finished 2 hours ago, 200 finished 10 minutes
    ago, 200 streaming since long ago. Only the first 60,000 chunks go."""
    settings.MAINTENANCE_BATCH_SIZE = 1000
    groups = [(600, COMPLETED, timedelta(hours=2)), (200, COMPLETED, timedelta(minutes=10))]
    groups.append((200, STREAMING, timedelta(days=200)))
    expected_gone = set()
    for count, status, ago in groups:
        made = [
            make_generation(
                company=company, prompt=prompt, status=status, ago=ago, scope=f"bulk:{n}"
            )
            for n in range(count)
        ]
        if ago == timedelta(hours=2):
            expected_gone.update(g.pk for g in made)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO generation_chunk (generation_id, seq, text, created_at)
            SELECT g.id, s.seq, 'piece ' || s.seq, now()
            FROM generation_generation g CROSS JOIN generate_series(0, 99) AS s(seq)
            """
        )
    assert Chunk.objects.count() == 100_000

    started = time.monotonic()
    report = retention.purge()
    elapsed = time.monotonic() - started

    assert report.chunks_deleted == 60_000
    assert not Chunk.objects.filter(generation_id__in=expected_gone).exists()
    assert Chunk.objects.count() == 40_000
    assert retention.purge().total == 0
    assert elapsed < 60, f"purge took {elapsed:.1f} s"
