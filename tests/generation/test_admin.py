"""The generation admin, driven as a staff user would drive it: through the test client."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generation.admin import PromptAdmin
from generation.models import Chunk, Generation, GenerationLog, HitCounter, Prompt
from tests.builders import make_company, make_prompt

pytestmark = pytest.mark.django_db


def use(prompt: Prompt, *, company=None) -> GenerationLog:
    """Record a call made with this prompt version, which makes the version immutable."""
    return GenerationLog.objects.create(
        kind="recommendation",
        company=company,
        prompt=prompt,
        provider="offline",
        model="offline-1",
        tokens_in=120,
        tokens_out=80,
        cost=Decimal("0.000300"),
        latency_ms=42,
        attempts=1,
        outcome="success",
    )


def make_generation(*, prompt: Prompt, company, result=None, chunks: int = 0) -> Generation:
    now = timezone.now()
    generation = Generation.objects.create(
        kind="recommendation",
        scope=f"company:{company.pk}",
        context_hash="ab" * 32,
        company=company,
        prompt=prompt,
        provider="offline",
        model="offline-1",
        inputs={"topic": "growth"},
        status="completed",
        attempts=1,
        result=result if result is not None else {"title": "Hire a CFO"},
        completed_at=now,
        expires_at=now,
    )
    for seq in range(chunks):
        Chunk.objects.create(generation=generation, seq=seq, text=f"part {seq} ")
    return generation


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def change_url(prompt: Prompt) -> str:
    return reverse("admin:generation_prompt_change", args=[prompt.pk])


@pytest.fixture
def rows(company):
    prompt = make_prompt(key="test-advice", template="Advise on {{ topic }}.")
    generation = make_generation(prompt=prompt, company=company, chunks=3)
    log = use(prompt, company=company)
    log.generation = generation
    log.save()
    counter = HitCounter.objects.create(
        day=timezone.localdate(), kind="recommendation", company=company, hits=7
    )
    return {"prompt": prompt, "generation": generation, "generationlog": log, "hitcounter": counter}


@pytest.mark.parametrize("model", ["prompt", "generationlog", "generation", "hitcounter"])
def test_changelist_and_change_page_render_for_staff(admin_client, rows, model):
    obj = rows[model]
    listing = admin_client.get(reverse(f"admin:generation_{model}_changelist"))
    assert listing.status_code == 200
    assert obj in listing.context["cl"].result_list

    page = admin_client.get(reverse(f"admin:generation_{model}_change", args=[obj.pk]))
    assert page.status_code == 200


def test_prompt_add_page_and_diff_page_render(admin_client, rows):
    assert admin_client.get(reverse("admin:generation_prompt_add")).status_code == 200
    diff = admin_client.get(reverse("admin:generation_prompt_diff", args=[rows["prompt"].pk]))
    assert diff.status_code == 200


def test_admin_index_lists_generation_models_but_not_chunks(admin_client, rows):
    page = admin_client.get(reverse("admin:index")).content.decode()
    for model in ("prompt", "generationlog", "generation", "hitcounter"):
        assert reverse(f"admin:generation_{model}_changelist") in page
    assert "/admin/generation/chunk/" not in page


def test_prompt_changelist_shows_default_model_and_filters_by_key(admin_client, rows):
    make_prompt(key="test-summary", model="gpt-4.1-mini")
    page = admin_client.get(reverse("admin:generation_prompt_changelist"))
    assert "(default)" in page.content.decode()
    assert "gpt-4.1-mini" in page.content.decode()

    only = admin_client.get(reverse("admin:generation_prompt_changelist"), {"key": "test-summary"})
    assert [p.key for p in only.context["cl"].result_list] == ["test-summary"]


def test_generation_page_shows_result_as_escaped_json_and_chunk_count(admin_client, company):
    prompt = make_prompt(key="test-advice")
    generation = make_generation(
        prompt=prompt,
        company=company,
        result={"title": "<script>alert(1)</script>", "steps": ["a", "b"]},
        chunks=4,
    )
    page = admin_client.get(reverse("admin:generation_generation_change", args=[generation.pk]))
    html = page.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Pretty printed: one key per line, indented.
    assert "\n  &quot;steps&quot;: [\n    &quot;a&quot;," in html
    assert page.context["adminform"].form.instance.chunks.count() == 4
    assert '<div class="readonly">4</div>' in html


def test_generation_search_by_context_hash_prefix(admin_client, company):
    prompt = make_prompt(key="test-advice")
    generation = make_generation(prompt=prompt, company=company)
    found = admin_client.get(reverse("admin:generation_generation_changelist"), {"q": "abab"})
    missing = admin_client.get(reverse("admin:generation_generation_changelist"), {"q": "ffff"})
    assert list(found.context["cl"].result_list) == [generation]
    assert list(missing.context["cl"].result_list) == []


# --- prompt versions -------------------------------------------------------------------


def test_new_version_from_copies_content_as_next_version_and_redirects(admin_client, admin_user):
    make_prompt(key="test-advice", template="Old {{ topic }}.")
    v2 = make_prompt(
        key="test-advice",
        template="Advise on {{ topic }}.",
        instructions="Be brief.",
        model="gpt-4.1-mini",
        temperature=0.3,
    )
    response = admin_client.post(reverse("admin:generation_prompt_new_version", args=[v2.pk]))

    v3 = Prompt.objects.get(key="test-advice", version=3)
    assert response.status_code == 302
    assert response["Location"] == change_url(v3)
    for field in ("template", "instructions", "model", "temperature", "output_schema"):
        assert getattr(v3, field) == getattr(v2, field)
    assert v3.created_by == admin_user
    assert not v3.is_active
    assert Prompt.objects.get(pk=v2.pk).is_active


def test_prompt_workflow_views_refuse_get(admin_client):
    prompt = make_prompt(key="test-advice")
    for name in ("new_version", "activate", "rollback"):
        url = reverse(f"admin:generation_prompt_{name}", args=[prompt.pk])
        assert admin_client.get(url).status_code == 405
    assert Prompt.objects.filter(key="test-advice").count() == 1


def test_prompt_workflow_views_need_csrf_token(admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    prompt = make_prompt(key="test-advice")
    response = client.post(reverse("admin:generation_prompt_new_version", args=[prompt.pk]))
    assert response.status_code == 403
    assert Prompt.objects.filter(key="test-advice").count() == 1


def test_activate_leaves_exactly_one_active_version_per_key(admin_client):
    v1 = make_prompt(key="test-advice")
    v2 = make_prompt(key="test-advice", active=False)
    other = make_prompt(key="test-summary")

    response = admin_client.post(
        reverse("admin:generation_prompt_activate", args=[v2.pk]), follow=True
    )

    assert response.status_code == 200
    assert "test-advice v2 is now the active version of test-advice." in messages_of(response)
    assert list(Prompt.objects.filter(key="test-advice", is_active=True)) == [v2]
    assert not Prompt.objects.get(pk=v1.pk).is_active
    assert Prompt.objects.get(pk=other.pk).is_active


def test_bulk_activate_refuses_two_versions_of_one_key(admin_client):
    v1 = make_prompt(key="test-advice")
    v2 = make_prompt(key="test-advice", active=False)
    v3 = make_prompt(key="test-advice", active=False)

    response = admin_client.post(
        reverse("admin:generation_prompt_changelist"),
        {"action": "activate_selected", "_selected_action": [v2.pk, v3.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert any("Nothing was activated" in m for m in messages_of(response))
    assert list(Prompt.objects.filter(key="test-advice", is_active=True)) == [v1]


def test_bulk_activate_activates_one_version_of_each_key(admin_client):
    make_prompt(key="test-advice")
    advice_v2 = make_prompt(key="test-advice", active=False)
    make_prompt(key="test-summary")
    summary_v2 = make_prompt(key="test-summary", active=False)

    admin_client.post(
        reverse("admin:generation_prompt_changelist"),
        {"action": "activate_selected", "_selected_action": [advice_v2.pk, summary_v2.pk]},
    )

    mine = Prompt.objects.filter(key__in=["test-advice", "test-summary"], is_active=True)
    assert set(mine) == {advice_v2, summary_v2}


def test_roll_back_activates_the_version_before_the_active_one(admin_client):
    v1 = make_prompt(key="test-advice")
    v2 = make_prompt(key="test-advice")

    response = admin_client.post(reverse("admin:generation_prompt_rollback", args=[v2.pk]))

    assert response.status_code == 302
    assert response["Location"] == change_url(v1)
    assert list(Prompt.objects.filter(key="test-advice", is_active=True)) == [v1]


def test_roll_back_without_an_earlier_version_shows_an_error(admin_client):
    v1 = make_prompt(key="test-advice")

    response = admin_client.post(
        reverse("admin:generation_prompt_rollback", args=[v1.pk]), follow=True
    )

    assert response.status_code == 200
    assert any(m.startswith("Cannot roll back") for m in messages_of(response))
    assert 'class="error"' in response.content.decode()
    assert Prompt.objects.get(pk=v1.pk).is_active


def test_roll_back_with_no_active_version_shows_an_error(admin_client):
    v1 = make_prompt(key="test-advice", active=False)

    response = admin_client.post(
        reverse("admin:generation_prompt_rollback", args=[v1.pk]), follow=True
    )

    assert response.status_code == 200
    assert any(m.startswith("Cannot roll back") for m in messages_of(response))
    assert not Prompt.objects.filter(key="test-advice", is_active=True).exists()


def test_diff_page_marks_removed_and_added_template_lines(admin_client):
    make_prompt(key="test-advice", template="Intro.\nAdvise on {{ topic }}.\nKeep <b>it</b> short.")
    v2 = make_prompt(key="test-advice", template="Intro.\nAdvise on {{ topic }} for {{ company }}.")

    page = admin_client.get(reverse("admin:generation_prompt_diff", args=[v2.pk]))
    html = page.content.decode()

    assert page.status_code == 200
    assert '<pre class="prompt-diff">' in html
    assert '<span class="removed">-Advise on {{ topic }}.</span>' in html
    assert '<span class="added">+Advise on {{ topic }} for {{ company }}.</span>' in html
    # Prompt text is shown, never interpreted as HTML.
    assert '<span class="removed">-Keep &lt;b&gt;it&lt;/b&gt; short.</span>' in html
    assert "<span>Intro.</span>" not in html
    assert "<span> Intro.</span>" in html


def test_diff_of_a_first_version_says_there_is_nothing_before_it(admin_client):
    v1 = make_prompt(key="test-advice", template="Only {{ topic }}.")
    page = admin_client.get(reverse("admin:generation_prompt_diff", args=[v1.pk]))
    assert page.status_code == 200
    assert '<span class="added">+Only {{ topic }}.</span>' in page.content.decode()


def test_used_version_change_form_shows_content_read_only(admin_client):
    prompt = make_prompt(key="test-advice")
    use(prompt)

    page = admin_client.get(change_url(prompt))

    form_fields = set(page.context["adminform"].form.fields)
    assert "template" not in form_fields
    assert "instructions" not in form_fields
    assert "notes" in form_fields
    assert "content is immutable" in page.content.decode()


def test_editing_a_used_version_is_refused_with_a_visible_error(admin_client):
    prompt = make_prompt(key="test-advice", template="Advise on {{ topic }}.")
    # The form was opened while the version was unused...
    form = admin_client.get(change_url(prompt)).context["adminform"].form
    assert "template" in form.fields
    use(prompt)  # ...and the version was used before it was submitted.

    response = admin_client.post(
        change_url(prompt),
        {
            "instructions": prompt.instructions,
            "template": "Something else about {{ topic }}.",
            "model": "",
            "temperature": "",
            "output_schema": "",
            "notes": "",
        },
        follow=True,
    )

    assert response.status_code == 200
    errors = messages_of(response)
    assert any("has been used" in m and "template" in m for m in errors)
    assert "has been used" in response.content.decode()
    prompt.refresh_from_db()
    assert prompt.template == "Advise on {{ topic }}."


def test_used_version_notes_can_still_be_edited(admin_client):
    prompt = make_prompt(key="test-advice")
    use(prompt)

    response = admin_client.post(change_url(prompt), {"notes": "Tested on 3 companies."})

    assert response.status_code == 302
    prompt.refresh_from_db()
    assert prompt.notes == "Tested on 3 companies."


def test_a_refusal_from_prompt_save_is_a_message_not_a_500(admin_client, monkeypatch):
    # A version used between the admin's check and the save: Prompt.save() refuses.
    prompt = make_prompt(key="test-advice", template="Advise on {{ topic }}.")

    def refuse(self, request, obj, form, change):
        raise ValidationError(f"{obj} has been used; create a new version instead of editing it.")

    monkeypatch.setattr(PromptAdmin, "save_model", refuse)
    response = admin_client.post(
        change_url(prompt),
        {"instructions": "", "template": "Changed.", "model": "", "temperature": "", "notes": ""},
        follow=True,
    )

    assert response.status_code == 200
    assert any("has been used" in m for m in messages_of(response))
    prompt.refresh_from_db()
    assert prompt.template == "Advise on {{ topic }}."


def test_editing_an_unused_version_saves(admin_client):
    prompt = make_prompt(key="test-advice", active=False)

    response = admin_client.post(
        change_url(prompt),
        {
            "instructions": "Be brief.",
            "template": "Fixed {{ topic }}.",
            "model": "",
            "temperature": "0.2",
            "output_schema": "",
            "notes": "",
        },
    )

    assert response.status_code == 302
    prompt.refresh_from_db()
    assert (prompt.template, prompt.temperature, prompt.version) == ("Fixed {{ topic }}.", 0.2, 1)


def test_adding_a_prompt_numbers_the_next_version_of_its_key(admin_client, admin_user):
    make_prompt(key="test-advice")
    make_prompt(key="test-advice")

    response = admin_client.post(
        reverse("admin:generation_prompt_add"),
        {
            "key": "test-advice",
            "instructions": "",
            "template": "New {{ topic }}.",
            "model": "",
            "temperature": "",
            "output_schema": "",
            "notes": "",
            "activate": "on",
        },
    )

    v3 = Prompt.objects.get(key="test-advice", version=3)
    assert response.status_code == 302
    assert v3.template == "New {{ topic }}."
    assert v3.created_by == admin_user
    assert list(Prompt.objects.filter(key="test-advice", is_active=True)) == [v3]


def test_adding_a_prompt_with_a_broken_template_shows_a_form_error(admin_client):
    response = admin_client.post(
        reverse("admin:generation_prompt_add"),
        {
            "key": "test-advice",
            "template": "Hello {% if %}",
            "output_schema": "",
            "temperature": "",
        },
    )

    assert response.status_code == 200
    assert "Template syntax error" in str(response.context["adminform"].form.errors["template"])
    assert not Prompt.objects.filter(key="test-advice").exists()


def test_adding_a_prompt_with_an_unknown_schema_shows_a_form_error(admin_client):
    response = admin_client.post(
        reverse("admin:generation_prompt_add"),
        {
            "key": "test-advice",
            "template": "Hi.",
            "output_schema": "no-such-schema",
            "temperature": "",
        },
    )

    assert response.status_code == 200
    assert "output_schema" in response.context["adminform"].form.errors
    assert not Prompt.objects.filter(key="test-advice").exists()


def test_used_or_active_prompt_cannot_be_deleted(admin_client):
    active = make_prompt(key="test-advice")
    used = make_prompt(key="test-summary", active=False)
    use(used)
    spare = make_prompt(key="test-summary", active=False)

    for prompt in (active, used):
        url = reverse("admin:generation_prompt_delete", args=[prompt.pk])
        assert admin_client.get(url).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:generation_prompt_delete", args=[spare.pk]), {"post": "yes"}
        ).status_code
        == 302
    )
    assert set(Prompt.objects.filter(key__in=["test-advice", "test-summary"])) == {active, used}


# --- read-only records ---------------------------------------------------------------


@pytest.mark.parametrize("model", ["generationlog", "generation", "hitcounter"])
def test_records_cannot_be_added_changed_or_deleted(admin_client, rows, model):
    obj = rows[model]
    assert admin_client.get(reverse(f"admin:generation_{model}_add")).status_code == 403
    assert admin_client.post(reverse(f"admin:generation_{model}_add"), {}).status_code == 403
    delete = reverse(f"admin:generation_{model}_delete", args=[obj.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    change = admin_client.get(reverse(f"admin:generation_{model}_change", args=[obj.pk]))
    assert change.context["has_change_permission"] is False
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_log_changelist_filters_by_outcome(admin_client, company):
    prompt = make_prompt(key="test-advice")
    use(prompt, company=company)
    failed = use(prompt, company=company)
    failed.outcome = "failed"
    failed.save()

    page = admin_client.get(
        reverse("admin:generation_generationlog_changelist"), {"outcome": "failed"}
    )

    assert list(page.context["cl"].result_list) == [failed]


def _log_changelist_queries(client) -> int:
    url = reverse("admin:generation_generationlog_changelist")
    client.get(url)  # warm per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_log_changelist_costs_the_same_queries_for_5_and_50_rows(admin_client):
    prompt = make_prompt(key="test-advice")

    def add_logs(n: int) -> None:
        for _ in range(n):
            use(prompt, company=make_company())  # each row its own company

    add_logs(5)
    with_5 = _log_changelist_queries(admin_client)
    add_logs(45)
    with_50 = _log_changelist_queries(admin_client)

    assert GenerationLog.objects.count() == 50
    assert with_5 == with_50


def test_staff_without_prompt_permissions_cannot_activate_or_copy(client, django_user_model):
    staff = django_user_model.objects.create_user(username="helper", is_staff=True)
    client.force_login(staff)
    make_prompt(key="test-advice")
    v2 = make_prompt(key="test-advice", active=False)

    for name in ("activate", "new_version", "rollback"):
        url = reverse(f"admin:generation_prompt_{name}", args=[v2.pk])
        assert client.post(url).status_code == 403, name
    assert client.get(reverse("admin:generation_prompt_diff", args=[v2.pk])).status_code == 403

    assert Prompt.objects.filter(key="test-advice").count() == 2
    assert not Prompt.objects.get(pk=v2.pk).is_active


def test_roll_back_is_offered_only_when_an_earlier_version_exists(admin_client):
    v1 = make_prompt(key="test-advice")
    rollback = reverse("admin:generation_prompt_rollback", args=[v1.pk])

    assert rollback not in admin_client.get(change_url(v1)).content.decode()

    v2 = make_prompt(key="test-advice")
    page = admin_client.get(change_url(v2)).content.decode()
    assert reverse("admin:generation_prompt_rollback", args=[v2.pk]) in page
