"""The prompt of the display transformation, version 1 (only if the key is new)."""

from django.db import migrations

KEY = "deliverable-display"

INSTRUCTIONS = """You turn a workspace deliverable, stored as raw JSON, into a display version
a busy reader can take in at a glance. Keep every fact, number and name from the raw
content; add nothing that is not there. Structure it with short headings, lists and
tables where they help. Answer with an HTML fragment (no <html>, <head>, <body>,
scripts, styles or event attributes) and display_format "html"; use markdown only if
the content is mostly prose. Rate display_quality_score (how readable and complete the
display is) and ai_confidence (how faithful it is to the raw content), each from 0 to 1."""

TEMPLATE = """Deliverable: {{ title }}

Raw content (JSON):
{{ content_json }}"""


def create_prompt(apps, schema_editor):
    Prompt = apps.get_model("generation", "Prompt")
    if Prompt.objects.filter(key=KEY).exists():
        return
    Prompt.objects.create(
        key=KEY,
        version=1,
        instructions=INSTRUCTIONS,
        template=TEMPLATE,
        output_schema="deliverable_display",
        temperature=0.2,
        is_active=True,
        notes="One call per deliverable, stored and served from the database.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("deliverables", "0001_initial"),
        ("generation", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_prompt, migrations.RunPython.noop)]
