"""The claim sweep's schedule (generation.tasks.close_expired_claims, every minute),
registered idempotently (update_or_create by name), as 0004_retention_schedule does.

Missed runs are not caught up (Q_CLUSTER catch_up is off): the sweep looks at the
current state, so one run after a pause does the work of all the missed ones.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULES = {
    "generation: close expired claims": {
        "func": "generation.tasks.close_expired_claims",
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
        ("generation", "0007_ledger_written_ahead"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(register, unregister)]
