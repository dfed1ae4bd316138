"""Prompt versions: create, activate, roll back, diff, and render with the inputs.

A version that has been used never changes; its key, version and template hash
are part of every context_hash made with it."""

import difflib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.template import Context, Engine

from companies.services import company_reads_changed
from generation.errors import PromptMissing
from generation.hashing import context_hash
from generation.models import Prompt
from generation.schemas import get_schema

# Prompts are data, not HTML: no autoescaping.
_PROMPT_ENGINE = Engine(autoescape=False)


def active_prompt(*, key: str) -> Prompt:
    prompt = Prompt.objects.filter(key=key, is_active=True).first()
    if prompt is None:
        raise PromptMissing(f"No active version of prompt {key!r}.")
    return prompt


def render_prompt(*, prompt: Prompt, inputs: Mapping[str, Any]) -> tuple[str, str]:
    # Prompts are text for a model, not HTML: "<" stays "<" (a Context escapes by
    # default, whatever the engine says).
    context = Context(dict(inputs), autoescape=False)
    return (
        _PROMPT_ENGINE.from_string(prompt.instructions).render(context),
        _PROMPT_ENGINE.from_string(prompt.template).render(context),
    )


def prompt_context_hash(*, prompt: Prompt, inputs: Mapping[str, Any]) -> str:
    return context_hash(
        inputs=inputs,
        prompt_key=prompt.key,
        prompt_version=prompt.version,
        template_hash=prompt.template_hash,
        model=prompt.effective_model,
        temperature=prompt.temperature,
        schema=get_schema(prompt.output_schema),
        provider=settings.EVERGREEN_PROVIDER,
    )


def create_prompt_version(
    *,
    key: str,
    template: str,
    instructions: str = "",
    model: str = "",
    temperature: float | None = None,
    output_schema: str = "",
    notes: str = "",
    activate: bool = False,
    by=None,
) -> Prompt:
    """A new version numbered after the highest existing one for the key."""
    if output_schema:
        get_schema(output_schema)  # fail early on an unknown schema name
    with transaction.atomic():
        # Lock the key's rows so two editors cannot take the same number.
        list(Prompt.objects.select_for_update().filter(key=key).values_list("pk", flat=True))
        last = Prompt.objects.filter(key=key).aggregate(v=Max("version"))["v"] or 0
        prompt = Prompt.objects.create(
            key=key,
            version=last + 1,
            template=template,
            instructions=instructions,
            model=model,
            temperature=temperature,
            output_schema=output_schema,
            notes=notes,
            created_by=by,
        )
        if activate:
            activate_prompt(prompt=prompt)
    return prompt


def new_version_from(*, prompt: Prompt, by=None, **changes: Any) -> Prompt:
    fields = {f: getattr(prompt, f) for f in Prompt.CONTENT_FIELDS if f not in ("key", "version")}
    fields.update(changes)
    return create_prompt_version(key=prompt.key, by=by, **fields)


def activate_prompt(*, prompt: Prompt) -> Prompt:
    """Make this the one active version of its key. Every company's reads look up the
    active versions, so they change with it, in the same transaction."""
    with transaction.atomic():
        Prompt.objects.filter(key=prompt.key, is_active=True).exclude(pk=prompt.pk).update(
            is_active=False
        )
        Prompt.objects.filter(pk=prompt.pk).update(is_active=True)
        company_reads_changed()
    prompt.is_active = True
    return prompt


def rollback_prompt(*, key: str) -> Prompt:
    """Activate the version before the active one."""
    current = active_prompt(key=key)
    previous = (
        Prompt.objects.filter(key=key, version__lt=current.version).order_by("-version").first()
    )
    if previous is None:
        raise PromptMissing(f"{current} is the first version of {key!r}; nothing to roll back to.")
    return activate_prompt(prompt=previous)


def prompt_diff(*, prompt: Prompt) -> str:
    """Unified diff of instructions, template and settings against the previous version."""
    previous = (
        Prompt.objects.filter(key=prompt.key, version__lt=prompt.version)
        .order_by("-version")
        .first()
    )

    def lines(p: Prompt | None) -> list[str]:
        if p is None:
            return []
        head = [
            f"model: {p.model or '(default)'}\n",
            f"temperature: {p.temperature}\n",
            f"output_schema: {p.output_schema or '(text)'}\n",
            "--- instructions\n",
        ]
        return head + _lines(p.instructions) + ["--- template\n"] + _lines(p.template)

    return "".join(
        difflib.unified_diff(
            lines(previous),
            lines(prompt),
            fromfile=str(previous) if previous else "(none)",
            tofile=str(prompt),
        )
    )


def _lines(text: str) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines()]
