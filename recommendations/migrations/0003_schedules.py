"""The maintenance schedules, registered idempotently (update_or_create by name).

Missed runs are not caught up (Q_CLUSTER catch_up is off): the jobs look at the
current state, so one run after a pause does the work of all the missed ones.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULES = {
    "recommendations: mark stale": {
        "func": "recommendations.tasks.mark_stale",
        "schedule_type": "H",
    },
    "recommendations: retention cleanup": {
        "func": "recommendations.tasks.cleanup",
        "schedule_type": "D",
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
        ("recommendations", "0002_prompts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(register, unregister)]
