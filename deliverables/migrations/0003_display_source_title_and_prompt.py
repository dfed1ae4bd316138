"""The display's source hash covers the title (it is in the prompt) and the display
records the prompt version that made it. Existing current displays stay current."""

import django.db.models.deletion
from django.db import migrations, models

from generation.hashing import sha256_of


def rehash(apps, schema_editor):
    Deliverable = apps.get_model("deliverables", "Deliverable")
    Prompt = apps.get_model("generation", "Prompt")
    active = (
        Prompt.objects.filter(key="deliverable-display", is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    batch = []
    for row in Deliverable.objects.only(
        "pk", "title", "content", "content_hash", "display_source_hash", "display_content"
    ).iterator(chunk_size=1000):
        new = sha256_of({"title": row.title, "content": row.content})
        if row.display_content and row.display_source_hash == row.content_hash:
            row.display_source_hash = new
        row.content_hash = new
        row.display_prompt_id = active if row.display_content else None
        batch.append(row)
        if len(batch) == 1000:
            Deliverable.objects.bulk_update(
                batch, ["content_hash", "display_source_hash", "display_prompt"]
            )
            batch = []
    if batch:
        Deliverable.objects.bulk_update(
            batch, ["content_hash", "display_source_hash", "display_prompt"]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("deliverables", "0002_display_prompt"),
        ("generation", "0006_cache_table"),
    ]

    operations = [
        migrations.AddField(
            model_name="deliverable",
            name="display_prompt",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="The prompt version that made the display.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="generation.prompt",
            ),
        ),
        migrations.RunPython(rehash, migrations.RunPython.noop),
    ]
