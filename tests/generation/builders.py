"""Builders for generation rows as a caller leaves them (a claim, a call on the ledger)."""

from datetime import timedelta

from django.utils import timezone

from generation import ledger
from generation.flight import get_or_generate
from generation.models import Generation, GenerationLog, GenerationStatus, Prompt
from generation.prompts import prompt_context_hash


def make_claim(
    *,
    prompt: Prompt,
    company,
    inputs: dict,
    kind: str = "tip",
    lease_left: float = -1.0,
    status: str = GenerationStatus.PENDING,
    owner: str = "host:1:1:dead",
) -> Generation:
    """The claim get_or_generate(kind, scope "company:<id>", prompt, inputs) would find,
    held by `owner` for `lease_left` more seconds (negative: its lease ran out)."""
    return Generation.objects.create(
        kind=kind,
        scope=f"company:{company.pk}",
        context_hash=prompt_context_hash(prompt=prompt, inputs=inputs),
        company=company,
        prompt=prompt,
        model=prompt.effective_model,
        inputs=inputs,
        status=status,
        owner=owner,
        lease_expires_at=timezone.now() + timedelta(seconds=lease_left),
    )


def make_started_call(
    *, generation: Generation, age: float = 0.0, prompt_text: str = "x" * 4000, attempts: int = 1
) -> GenerationLog:
    """The ledger row of a call in flight (or of a caller that died), `age` seconds old,
    as the caller opened it (generation.ledger) for a gpt-4o-mini call."""
    entry = ledger.open_entry(
        kind=generation.kind,
        company_id=generation.company_id,
        generation=generation,
        provider="openai",
        model="gpt-4o-mini",
        prompt_text=prompt_text,
    )
    ledger.count_attempt(entry, attempts)
    GenerationLog.objects.filter(pk=entry.pk).update(
        created_at=timezone.now() - timedelta(seconds=age)
    )
    return GenerationLog.objects.get(pk=entry.pk)


def ask_tip(company, topic: str = "onboarding", **kwargs):
    """get_or_generate of a "tip" about `topic` for the company (prompt key "tip")."""
    return get_or_generate(
        kind="tip",
        scope=f"company:{company.pk}",
        prompt_key="tip",
        inputs={"topic": topic},
        company_id=company.pk,
        **kwargs,
    )
