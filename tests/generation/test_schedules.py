"""Maintenance schedules registered by name (generation/schedules.py): a schedule
registered under an earlier name is renamed in place, and registering twice changes
nothing."""

import importlib
from datetime import timedelta

from django.apps import apps as django_apps
from django.utils import timezone
from django_q.models import Schedule

EARLIER, NAME = "generation: retention purge", "maintenance: generation retention"
migration = importlib.import_module("generation.migrations.0007_maintenance_schedule_name")


def retention_schedules() -> list[str]:
    return list(
        Schedule.objects.filter(func="generation.tasks.purge").values_list("name", flat=True)
    )


def test_a_schedule_under_its_earlier_name_is_renamed_and_keeps_its_next_run(db):
    next_run = timezone.now() + timedelta(minutes=37)
    Schedule.objects.filter(name=NAME).update(name=EARLIER, next_run=next_run)

    migration.register(django_apps, None)
    migration.register(django_apps, None)

    [row] = Schedule.objects.filter(func="generation.tasks.purge")
    assert (row.name, row.next_run, row.repeats) == (NAME, next_run, -1)


def test_a_copy_under_the_earlier_name_is_dropped(db):
    Schedule.objects.create(name=EARLIER, func="generation.tasks.purge", schedule_type="H")

    migration.register(django_apps, None)

    assert retention_schedules() == [NAME]


def test_reversing_gives_the_earlier_name_back(db):
    migration.unregister(django_apps, None)

    assert retention_schedules() == [EARLIER]
