"""Small builders for test data: explicit arguments, sensible defaults."""

import itertools
from importlib import import_module

from django.contrib.auth import get_user_model

from companies.models import Company, Membership
from generation.models import Prompt
from generation.prompts import activate_prompt, create_prompt_version

_seq = itertools.count(1)


def make_company(*, name: str | None = None, **fields) -> Company:
    n = next(_seq)
    name = name or f"Company {n}"
    return Company.objects.create(name=name, slug=f"{name.lower().replace(' ', '-')}-{n}", **fields)


def make_member(*, company: Company, role: str = "editor", username: str | None = None):
    user = get_user_model().objects.create_user(username=username or f"user{next(_seq)}")
    return Membership.objects.create(user=user, company=company, role=role)


def make_prompt(
    *,
    key: str = "test-prompt",
    template: str = "Write about {{ topic }}.",
    instructions: str = "You are concise.",
    output_schema: str = "",
    model: str = "",
    temperature: float | None = None,
    active: bool = True,
) -> Prompt:
    prompt = create_prompt_version(
        key=key,
        template=template,
        instructions=instructions,
        output_schema=output_schema,
        model=model,
        temperature=temperature,
    )
    if active:
        activate_prompt(prompt=prompt)
    return prompt


def writes_in(queries: list[dict]) -> list[str]:
    """The statements of a CaptureQueriesContext that write (all but SELECTs)."""
    return [q["sql"] for q in queries if q["sql"].lstrip().split(None, 1)[0] != "SELECT"]


def run_queued_tasks() -> int:
    """Run the Django-Q2 tasks waiting in the ORM broker, in this process, as a cluster
    would (oldest first; a task a task queues runs too); returns how many ran."""
    from django.utils.module_loading import import_string
    from django_q.models import OrmQ

    ran = 0
    while queued := list(OrmQ.objects.order_by("id")):
        for row in queued:
            package = row.task
            row.delete()
            import_string(package["func"])(*package["args"], **package["kwargs"])
            ran += 1
    return ran


def restore_migrated_rows() -> None:
    """The rows the data migrations made (the content prompts, the display prompt, the
    review personas), for tests after a transactional test, whose flush removed them."""
    from django.apps import apps

    from deliverables.services import PROMPT_KEY
    from reviews.models import Persona

    if not Prompt.objects.filter(key="recommendation").exists():
        import_module("recommendations.migrations.0002_prompts").create_prompts(apps, None)
    if not Prompt.objects.filter(key=PROMPT_KEY).exists():
        import_module("deliverables.migrations.0002_display_prompt").create_prompt(apps, None)
    if not Persona.objects.exists():
        import_module("reviews.migrations.0002_personas").create(apps, None)
