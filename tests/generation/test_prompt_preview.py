"""Previewing a prompt version's activation: what it supersedes, what regenerating
that costs according to the ledger, and a dry run that stores nothing as content."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from generation import previews
from generation.models import Generation, GenerationLog, GenerationStatus, Prompt
from generation.prompts import new_version_from
from tests.builders import make_company, make_prompt
from tests.providers import CountingProvider

pytestmark = pytest.mark.django_db


def stored(prompt: Prompt, scope: str, *, topic: str = "hiring", n: int = 0) -> Generation:
    return Generation.objects.create(
        kind="tip",
        scope=scope,
        context_hash=f"{prompt.pk}-{scope}-{n}",
        prompt=prompt,
        inputs={"topic": topic},
        text=f"Old tip about {topic}.",
        status=GenerationStatus.COMPLETED,
        completed_at=timezone.now(),
    )


def charge(generation: Generation | None, cost: str, *, kind="tip", outcome="success", **fields):
    return GenerationLog.objects.create(
        kind=kind,
        generation=generation,
        prompt=generation.prompt if generation else None,
        provider="openai",
        model="gpt-4o-mini",
        cost=Decimal(cost),
        attempts=1,
        outcome=outcome,
        **fields,
    )


@pytest.fixture
def draft() -> Prompt:
    """tip v1 active with stored artefacts and a known ledger; v2 the draft to preview."""
    v1 = make_prompt(key="tip", model="gpt-4o-mini")
    a = stored(v1, "company:1", topic="hiring")
    stored(v1, "company:1", topic="hiring again", n=1)  # an older context: same slot
    b = stored(v1, "company:2", topic="pricing")
    stored(v1, "company:3", topic="sales")
    stored(v1, "company:4", topic="support")
    # The ledger: artefact a cost 0.010 + a failed try of 0.002, b 0.006 -> 0.009 each.
    charge(a, "0.010000")
    charge(a, "0.002000", outcome="failed")
    charge(b, "0.006000")
    charge(None, "5.000000", origin="prompt-preview:999")  # a preview: not an artefact
    charge(None, "7.000000", kind="other")
    v2 = new_version_from(prompt=v1, template="Write a better tip about {{ topic }}.")
    stored(v2, "company:4", topic="support")  # already made with v2: not superseded
    return v2


def test_the_impact_counts_superseded_slots_and_prices_them_from_the_ledger(draft):
    impact = previews.activation_impact(prompt=draft)

    assert impact.superseded == 3  # company:1 (two contexts, one slot), :2, :3
    assert impact.kinds == ["tip"]
    assert impact.mean_cost == Decimal("0.009")
    assert impact.estimate == Decimal("0.027")


def test_the_active_version_supersedes_nothing(draft):
    active = Prompt.objects.get(key="tip", is_active=True)

    impact = previews.activation_impact(prompt=active)

    assert (impact.superseded, impact.estimate) == (0, 0)


def test_the_preview_page_says_the_count_and_the_estimate(admin_client, draft):
    url = reverse("admin:generation_prompt_preview", args=[draft.pk])

    page = admin_client.get(url).content.decode()
    change_form = admin_client.get(reverse("admin:generation_prompt_change", args=[draft.pk]))

    assert 'data-fact="superseded">3 ' in page
    assert 'data-fact="estimate">$0.027' in page
    assert url in change_form.content.decode()
    assert "<strong>3</strong> stored artefacts" in change_form.content.decode()


def test_the_dry_run_prices_new_outputs_and_stores_nothing_as_content(
    admin_client, draft, monkeypatch
):
    provider = CountingProvider()
    monkeypatch.setattr("generation.previews.get_provider", lambda name=None: provider)
    generations = list(Generation.objects.values_list("pk", "status", "text", "prompt_id"))
    logs_before = GenerationLog.objects.count()

    response = admin_client.post(reverse("admin:generation_prompt_preview", args=[draft.pk]))

    assert response.status_code == 200
    samples = response.context["samples"]
    assert provider.calls == 3 == len(samples)
    assert {s.generation.scope for s in samples} == {"company:1", "company:2", "company:3"}
    assert all(s.old.content.startswith("Old tip") and s.new.content for s in samples)
    # Priced by the ledger (the offline model is free, so its price is 0, not unknown);
    # the stored side by its artefact's call, when the ledger has one.
    assert all(s.new.cost is not None for s in samples)
    old_costs = {s.generation.scope: s.old.cost for s in samples}
    assert old_costs == {"company:1": None, "company:2": Decimal("0.006"), "company:3": None}
    page = response.content.decode()
    assert "Old tip about hiring again." in page  # the latest artefact of the slot
    # Nothing serving reads changed: the same generations, untouched.
    assert list(Generation.objects.values_list("pk", "status", "text", "prompt_id")) == (
        generations
    )
    calls = GenerationLog.objects.filter(origin=f"prompt-preview:{draft.pk}")
    assert GenerationLog.objects.count() == logs_before + 3 == logs_before + calls.count()
    assert all(row.outcome == "success" and row.generation_id is None for row in calls)
    assert sum(row.cost for row in calls) == sum(s.new.cost for s in samples)
    # Its preview calls name no prompt (a draft that only had a preview stays
    # editable), and the draft stays inactive.
    draft.refresh_from_db()
    assert not draft.logs.exists() and not draft.is_active
    assert previews.activation_impact(prompt=draft).mean_cost == Decimal("0.009")


def test_a_failed_dry_run_call_is_shown_and_stays_on_the_ledger(admin_client, draft, monkeypatch):
    from generation.errors import ProviderError

    provider = CountingProvider()
    provider.fail_with = ProviderError("secret upstream text", transient=False, outcome="failed")
    monkeypatch.setattr("generation.previews.get_provider", lambda name=None: provider)

    response = admin_client.post(reverse("admin:generation_prompt_preview", args=[draft.pk]))

    assert response.status_code == 200
    assert all(s.new.error for s in response.context["samples"])
    assert "The call failed (failed)." in response.content.decode()
    assert (
        GenerationLog.objects.filter(origin=f"prompt-preview:{draft.pk}", outcome="failed").count()
        == provider.calls
    )


def test_a_viewer_without_change_permission_cannot_run_the_dry_run(client, draft, monkeypatch):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    provider = CountingProvider()
    monkeypatch.setattr("generation.previews.get_provider", lambda name=None: provider)
    user = get_user_model().objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_prompt"))
    client.force_login(user)
    url = reverse("admin:generation_prompt_preview", args=[draft.pk])

    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 403
    assert provider.calls == 0
    assert make_company()  # the database is usable after the refusal
