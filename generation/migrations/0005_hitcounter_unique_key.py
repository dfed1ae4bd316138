"""One HitCounter row per (day, kind, company): merge the duplicates the old
UPDATE-then-INSERT left, then make the key unique (company NULL counted as one value),
so the write-behind flush can INSERT ... ON CONFLICT DO UPDATE."""

import django.db.models.functions.comparison
from django.db import migrations, models
from django.db.models import Count, Min, Sum


def merge_duplicates(apps, schema_editor):
    HitCounter = apps.get_model("generation", "HitCounter")
    db = schema_editor.connection.alias
    groups = (
        HitCounter.objects.using(db)
        .values("day", "kind", "company_id")
        .annotate(n=Count("id"), keep=Min("id"), total=Sum("hits"))
        .filter(n__gt=1)
    )
    for group in groups:
        HitCounter.objects.using(db).filter(pk=group["keep"]).update(hits=group["total"])
        HitCounter.objects.using(db).filter(
            day=group["day"], kind=group["kind"], company_id=group["company_id"]
        ).exclude(pk=group["keep"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0001_initial"),
        ("generation", "0004_retention_schedule"),
    ]

    operations = [
        migrations.RunPython(merge_duplicates, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="hitcounter", name="hitcounter_key"),
        migrations.AddConstraint(
            model_name="hitcounter",
            constraint=models.UniqueConstraint(
                models.F("day"),
                models.F("kind"),
                django.db.models.functions.comparison.Coalesce("company", models.Value(0)),
                name="hitcounter_unique_key",
            ),
        ),
    ]
