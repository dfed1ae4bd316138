"""The retention schedule is a maintenance job: "generation: retention purge" becomes
"maintenance: generation retention" (generation/schedules.py: renamed in place,
keeping its next run; registering again changes nothing)."""

from django.db import migrations

from generation import schedules

RENAMED = {"generation: retention purge": "maintenance: generation retention"}
RETENTION = {"func": "generation.tasks.purge", "schedule_type": "H"}


def register(apps, schema_editor):
    schedules.register(apps, {"maintenance: generation retention": RETENTION}, renamed=RENAMED)


def unregister(apps, schema_editor):
    schedules.register(
        apps,
        {"generation: retention purge": RETENTION},
        renamed={new: old for old, new in RENAMED.items()},
    )


class Migration(migrations.Migration):
    dependencies = [("generation", "0006_cache_table")]

    operations = [migrations.RunPython(register, unregister)]
