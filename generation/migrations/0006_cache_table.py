"""The database cache's table (what `manage.py createcachetable` makes): the
throttles' counts live there when no Redis cache is configured. Does nothing when
the default cache is not a database cache, or when its table exists."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("generation", "0005_hitcounter_unique_key")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
