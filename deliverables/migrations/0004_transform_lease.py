"""A queued transform's claim is a lease (generation.leases.Lease): the time it ends
replaces the time it was queued. A claim still running keeps its end."""

from datetime import timedelta

from django.db import migrations, models
from django.db.models import F

# The queue lease's length when this migration was written (services.queue).
LEASE = timedelta(minutes=5)


def queued_to_expiry(apps, schema_editor):
    Deliverable = apps.get_model("deliverables", "Deliverable")
    Deliverable.objects.filter(transform_queued_at__isnull=False).update(
        transform_lease_expires_at=F("transform_queued_at") + LEASE
    )


def expiry_to_queued(apps, schema_editor):
    Deliverable = apps.get_model("deliverables", "Deliverable")
    Deliverable.objects.filter(transform_lease_expires_at__isnull=False).update(
        transform_queued_at=F("transform_lease_expires_at") - LEASE
    )


class Migration(migrations.Migration):
    dependencies = [
        ("deliverables", "0003_display_source_title_and_prompt"),
    ]

    operations = [
        migrations.AddField(
            model_name="deliverable",
            name="transform_lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(queued_to_expiry, expiry_to_queued),
        migrations.RemoveField(model_name="deliverable", name="transform_queued_at"),
    ]
