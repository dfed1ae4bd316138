"""Version 1 of the three prompts this app generates with; left alone if the key exists."""

from django.db import migrations

INSTRUCTIONS = (
    "You are a pragmatic business coach for small companies working through a growth "
    "journey. Be specific, concise and practical. Write markdown where text is asked for."
)

PROMPTS = {
    "recommendation": {
        "output_schema": "recommendation",
        "template": (
            "The company's journey so far:\n"
            "- completed steps: {{ context.completed_steps|join:', '|default:'none' }}\n"
            "- steps in progress: {{ context.in_progress_steps|join:', '|default:'none' }}\n"
            "- maturity per domain (0-5): {% for d, level in context.domain_levels.items %}"
            "{{ d }}={{ level }} {% empty %}none{% endfor %}\n\n"
            "Recommend how to tackle the next step \"{{ step.name }}\" in the domain "
            "\"{{ step.domain }}\": {{ step.description }}"
        ),
    },
    "insight": {
        "output_schema": "insight_set",
        "template": (
            "The company's journey so far:\n"
            "- completed steps: {{ context.completed_steps|join:', '|default:'none' }}\n"
            "- steps in progress: {{ context.in_progress_steps|join:', '|default:'none' }}\n\n"
            "Write three short insights from peers (founders of comparable companies) about "
            "{% if target.step %}the step \"{{ target.step }}\" in {% endif %}"
            "the domain \"{{ target.domain }}\", each with a relevance score between 0.5 and "
            "1.0 for this company and a short author profile."
        ),
    },
    "health_summary": {
        "output_schema": "health_summary",
        "template": (
            "The company's journey so far:\n"
            "- completed steps: {{ context.completed_steps|join:', '|default:'none' }}\n"
            "- steps in progress: {{ context.in_progress_steps|join:', '|default:'none' }}\n"
            "- maturity per domain (0-5): {% for d, level in context.domain_levels.items %}"
            "{{ d }}={{ level }} {% empty %}none{% endfor %}\n"
            "- last activity: {{ context.last_activity|default:'none' }}\n\n"
            "Assess the company's business health: a score from 0 to 100, a headline, a short "
            "analysis, strengths, risks and the one area to focus on next."
        ),
    },
}


def create_prompts(apps, schema_editor):
    Prompt = apps.get_model("generation", "Prompt")
    for key, fields in PROMPTS.items():
        if Prompt.objects.filter(key=key).exists():
            continue
        Prompt.objects.create(
            key=key,
            version=1,
            is_active=True,
            instructions=INSTRUCTIONS,
            notes="Initial version (recommendations app).",
            **fields,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0001_initial"),
        ("generation", "0002_generation_ttl"),
    ]

    operations = [migrations.RunPython(create_prompts, migrations.RunPython.noop)]
