"""The claim sweep's schedule (generation.tasks.close_expired_claims, every minute), a
maintenance job registered by generation.schedules like the others."""

from django.db import migrations

from generation import schedules

SCHEDULES = {
    "maintenance: generation claim sweep": {
        "func": "generation.tasks.close_expired_claims",
        "schedule_type": "I",
        "minutes": 1,
    },
}


def register(apps, schema_editor):
    schedules.register(apps, SCHEDULES)


def unregister(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0008_ledger_written_ahead"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(register, unregister)]
