"""Curating content in the admin: content is edited through its output schema's
fields and saved through the lifecycle service; Regenerate shows members that the
content is being regenerated until the new one lands."""

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import Generation
from generation.prompts import new_version_from
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import HealthSummary, Insight, Recommendation
from recommendations.schemas import InsightItem, RecommendationOutput
from tests.builders import make_prompt, run_queued_tasks
from tests.recommendations.builders import (
    content_form_data,
    make_health,
    make_insight,
    make_recommendation,
)


@pytest.fixture
def recommendation(company, steps, provider) -> Recommendation:
    services.recommendations_for(company=company, limit=1)
    return Recommendation.objects.first()


def change_url(row) -> str:
    return reverse(f"admin:recommendations_{row._meta.model_name}_change", args=[row.pk])


def test_the_change_form_shows_the_schemas_fields_not_a_json_box(admin_client, recommendation):
    page = admin_client.get(change_url(recommendation)).content.decode()

    for name in ("title", "summary", "actions", "priority", "effort"):
        assert f'name="{name}"' in page
    assert 'name="content"' not in page
    # One action per line, as the model wrote them.
    assert "\n".join(recommendation.content["actions"]) in page


def test_a_save_that_deletes_the_actions_is_a_form_error_and_changes_nothing(
    admin_client, recommendation
):
    before = dict(recommendation.content)
    data = content_form_data(RecommendationOutput, {**before, "title": "Changed"})
    data["actions"] = ""

    response = admin_client.post(change_url(recommendation), data)

    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors["actions"]
    assert "errornote" in response.content.decode()
    recommendation.refresh_from_db()
    assert recommendation.content == before
    assert recommendation.revision == 0


def test_a_choice_outside_the_schema_is_refused(admin_client, recommendation):
    data = content_form_data(RecommendationOutput, recommendation.content)
    data["priority"] = "urgent"

    response = admin_client.post(change_url(recommendation), data)

    assert response.status_code == 200
    assert "priority" in response.context["adminform"].form.errors
    recommendation.refresh_from_db()
    assert recommendation.content["priority"] != "urgent"


def test_a_valid_edit_is_saved_and_raises_the_revision(admin_client, api, company, recommendation):
    data = content_form_data(RecommendationOutput, recommendation.content)
    data["title"] = "Hire a bookkeeper"
    data["actions"] = "Ask two firms for a quote\nPick one by Friday"

    response = admin_client.post(change_url(recommendation), data)

    assert response.status_code == 302
    recommendation.refresh_from_db()
    assert recommendation.content["title"] == "Hire a bookkeeper"
    assert recommendation.content["actions"] == ["Ask two firms for a quote", "Pick one by Friday"]
    assert recommendation.revision == 1
    body = api.get(reverse("company-recommendations", args=[company.pk])).json()
    served = next(item for item in body if item["id"] == recommendation.pk)
    assert served["content"]["title"] == "Hire a bookkeeper"


def test_a_save_without_changes_writes_nothing(admin_client, recommendation):
    data = content_form_data(RecommendationOutput, recommendation.content)

    assert admin_client.post(change_url(recommendation), data).status_code == 302
    recommendation.refresh_from_db()
    assert recommendation.revision == 0


def test_an_insight_is_edited_field_by_field_author_included(
    admin_client, api, company, steps, provider
):
    api.get(reverse("company-insights", args=[company.pk]) + f"?domain={steps[0].domain_id}")
    insight = Insight.objects.first()
    data = content_form_data(
        InsightItem,
        {
            "content": insight.content,
            "relevance_score": insight.relevance_score,
            "author_profile": insight.author_profile,
        },
    )
    data["author_profile__name"] = "Robin"
    bad = {**data, "relevance_score": "0.2"}  # the schema's range is 0.5-1.0

    assert admin_client.post(change_url(insight), bad).status_code == 200
    assert admin_client.post(change_url(insight), data).status_code == 302

    insight.refresh_from_db()
    assert insight.author_profile["name"] == "Robin"
    assert insight.relevance_score >= 0.5
    assert insight.revision == 1


def dashboard(member, company) -> str:
    client = Client()
    client.force_login(member.user)
    return client.get(reverse("company-dashboard", args=[company.pk])).content.decode()


def test_regenerate_shows_members_being_regenerated_until_the_new_content_lands(
    admin_client, api, member, company, steps, provider, django_capture_on_commit_callbacks
):
    services.health_summary_for(company=company)
    row = HealthSummary.objects.get()
    url = reverse("company-health", args=[company.pk])
    assert api.get(url).json()["status"] in (Status.FRESH, Status.ACTIVE)

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:recommendations_healthsummary_changelist"),
            {"action": "regenerate", "_selected_action": [row.pk]},
        )

    assert api.get(url).json()["status"] == Status.REGENERATING
    page = dashboard(member, company)
    assert 'data-state="generating"' in page and "being regenerated" in page
    assert provider.calls == 1  # queued, not asked in the request

    assert run_queued_tasks() >= 1  # the refresh lands: new content, current again
    assert provider.calls == 2
    row.refresh_from_db()
    assert row.status == Status.STALE
    body = api.get(url).json()
    assert body["id"] != row.pk and body["status"] in (Status.FRESH, Status.ACTIVE)
    assert "being regenerated" not in dashboard(member, company)
    assert Generation.objects.filter(kind="health_summary").count() == 1


@pytest.mark.parametrize(
    ("model", "make"),
    [
        ("recommendation", make_recommendation),
        ("insight", make_insight),
        ("healthsummary", make_health),
    ],
)
def test_content_lists_show_and_filter_by_prompt_version(admin_client, company, model, make):
    v1 = make_prompt(key=f"{model}-curation")
    v2 = new_version_from(prompt=v1)
    mine = make(company=company, context_hash="a" * 64, prompt=v1)
    other = make(company=company, context_hash="b" * 64, prompt=v2, status=Status.STALE)
    url = reverse(f"admin:recommendations_{model}_changelist")

    page = admin_client.get(url).content.decode()
    filtered = admin_client.get(url, {"prompt__id__exact": v1.pk})

    assert "column-prompt" in page
    assert f"{v1.key} v1" in page and f"{v1.key} v2" in page
    assert f"?prompt__id__exact={v1.pk}" in page
    assert [row.pk for row in filtered.context["cl"].result_list] == [mine.pk]
    assert other.pk != mine.pk


def test_a_started_recommendation_being_regenerated_still_reads_in_progress(
    admin_client, member, company, recommendation, django_capture_on_commit_callbacks
):
    services.start_recommendation(recommendation=recommendation)

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:recommendations_recommendation_changelist"),
            {"action": "regenerate", "_selected_action": [recommendation.pk]},
        )

    recommendation.refresh_from_db()
    assert recommendation.status == Status.REGENERATING
    card = (
        dashboard(member, company).split(f'id="rec-{recommendation.pk}"')[1].split("</article>")[0]
    )
    assert "In progress" in card and "being regenerated" in card
    assert "Not started" not in card
