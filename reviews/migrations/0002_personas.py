"""Version 1 of the expand prompt and of the five persona prompts, and the personas.

Left alone when a prompt key or persona already exists, so curating them in the
admin is never undone by a migration."""

from django.db import migrations

EXPAND = {
    "key": "review-expand",
    "output_schema": "review_proposal",
    "instructions": (
        "You turn a short product or engineering idea into a concrete proposal that a "
        "review board can judge. Be specific and realistic; say what is out of scope."
    ),
    "template": (
        "Idea: {{ idea }}\n"
        "{% if extra_context %}Context: {% for k, v in extra_context.items %}{{ k }}={{ v }}; "
        "{% endfor %}\n{% endif %}"
        "{% if parent_proposal %}\nThis is a revision. The current proposal:\n"
        "{% for k, v in parent_proposal.items %}- {{ k }}: {{ v }}\n{% endfor %}"
        "Apply these edit notes and change only what they require: {{ edit_notes }}\n"
        "{% endif %}\n"
        "Write the proposal: title, problem statement, proposed solution, scope and "
        "non-goals, architecture, security and data, operations, costs and value, risks, "
        "assumptions."
    ),
}

REVIEW_TEMPLATE = (
    "Review this proposal, \"{{ title }}\", from your point of view. The parts you "
    "are responsible for:\n"
    "{% for name, text in sections.items %}\n## {{ name }}\n{{ text }}\n{% endfor %}\n"
    "Give a summary, your confidence (0 to 1) that it should go ahead, strengths, "
    "concerns (category, severity, and whether each one blocks the proposal) and "
    "recommendations."
)

PERSONAS = [
    {
        "key": "architect",
        "name": "Architect",
        "weight": "1.00",
        "order": 1,
        "sections": ["problem_statement", "proposed_solution", "architecture", "risks"],
        "instructions": (
            "You are a principal software architect. You judge feasibility, design "
            "soundness, coupling and how the system will evolve."
        ),
    },
    {
        "key": "security",
        "name": "Security engineer",
        "weight": "1.50",
        "order": 2,
        "sections": ["architecture", "security_and_data"],
        "instructions": (
            "You are a security engineer. You look for data exposure, authentication and "
            "authorization gaps, compliance risks and abuse cases. A serious one blocks."
        ),
    },
    {
        "key": "product",
        "name": "Product manager",
        "weight": "1.00",
        "order": 3,
        "sections": ["problem_statement", "proposed_solution", "scope_and_non_goals"],
        "instructions": (
            "You are a product manager. You judge user value, the clarity of the problem, "
            "scope and how success will be measured."
        ),
    },
    {
        "key": "operations",
        "name": "Operations engineer",
        "weight": "1.00",
        "order": 4,
        "sections": ["architecture", "operations", "risks"],
        "instructions": (
            "You are a site reliability engineer. You judge deployability, observability, "
            "failure modes, on-call load and capacity."
        ),
    },
    {
        "key": "finance",
        "name": "Finance partner",
        "weight": "0.75",
        "order": 5,
        "sections": ["scope_and_non_goals", "costs_and_value"],
        "instructions": (
            "You are a finance business partner. You judge cost, return on investment, "
            "budget risk and whether the value justifies the spend."
        ),
    },
]


def create(apps, schema_editor):
    Prompt = apps.get_model("generation", "Prompt")
    Persona = apps.get_model("reviews", "Persona")
    prompts = [EXPAND] + [
        {
            "key": f"review-persona-{p['key']}",
            "output_schema": "persona_review",
            "instructions": p["instructions"],
            "template": REVIEW_TEMPLATE,
        }
        for p in PERSONAS
    ]
    for fields in prompts:
        if not Prompt.objects.filter(key=fields["key"]).exists():
            Prompt.objects.create(
                version=1, is_active=True, notes="Initial version (reviews app).", **fields
            )
    for p in PERSONAS:
        Persona.objects.get_or_create(
            key=p["key"],
            defaults={
                "name": p["name"],
                "weight": p["weight"],
                "order": p["order"],
                "sections": p["sections"],
                "prompt_key": f"review-persona-{p['key']}",
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0001_initial"),
        ("generation", "0002_generation_ttl"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
