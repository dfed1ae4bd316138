"""The recovery schedule, registered idempotently (update_or_create by name)."""

from django.db import migrations
from django.utils import timezone

SCHEDULES = {
    "reviews: recover runs": {
        "func": "reviews.tasks.recover_runs",
        "schedule_type": "I",
        "minutes": 1,
    },
}


def register(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, fields in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={**fields, "repeats": -1, "next_run": timezone.now()},
        )


def unregister(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0002_personas"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(register, unregister)]
