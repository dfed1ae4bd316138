"""The recommendations' schedules are maintenance jobs, named as the others
("maintenance: <app> <job>"), and retention's task is `purge`, as in generation
(generation/schedules.py: renamed in place, keeping their next runs; registering
again changes nothing)."""

from django.db import migrations

from generation import schedules

RENAMED = {
    "recommendations: mark stale": "maintenance: recommendations stale marking",
    "recommendations: retention cleanup": "maintenance: recommendations retention",
}
SCHEDULES = {
    "maintenance: recommendations stale marking": {
        "func": "recommendations.tasks.mark_stale",
        "schedule_type": "H",
    },
    "maintenance: recommendations retention": {
        "func": "recommendations.tasks.purge",
        "schedule_type": "D",
    },
}
EARLIER = {
    "recommendations: mark stale": SCHEDULES["maintenance: recommendations stale marking"],
    "recommendations: retention cleanup": {
        "func": "recommendations.tasks.cleanup",
        "schedule_type": "D",
    },
}


def register(apps, schema_editor):
    schedules.register(apps, SCHEDULES, renamed=RENAMED)


def unregister(apps, schema_editor):
    schedules.register(apps, EARLIER, renamed={new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0004_read_indexes")]

    operations = [migrations.RunPython(register, unregister)]
