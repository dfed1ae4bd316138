"""The read cache is exact: what a reader sees changes exactly when what it shows does.

Two things are cached (docs/architecture.md): a company's read lookups, keyed by its
read version, and each content item's representation, keyed by its row, artefact and
revision. Each test changes something a reader shows through the path a person
takes (the API, the admin) and checks the next read shows it.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from generation.models import Prompt
from generation.prompts import new_version_from, rollback_prompt
from recommendations import services
from recommendations.models import HealthSummary, JourneyStep, Recommendation
from recommendations.schemas import HealthSummaryOutput
from recommendations.serializers import RecommendationSerializer
from tests.recommendations.builders import content_form_data, make_recommendation


def recs(api, company):
    response = api.get(reverse("company-recommendations", args=[company.pk]))
    assert response.status_code == 200, response.content
    return response.json()


def health(api, company):
    response = api.get(reverse("company-health", args=[company.pk]))
    assert response.status_code == 200, response.content
    return response.json()


def journey(api, company):
    response = api.get(reverse("company-journey", args=[company.pk]))
    assert response.status_code == 200, response.content
    return response.json()


def test_a_second_read_renders_nothing_again_but_shows_the_new_showing_counts(
    api, company, steps, provider, monkeypatch
):
    first = recs(api, company)
    rendered = []
    fixed = RecommendationSerializer.fixed_representation
    monkeypatch.setattr(
        RecommendationSerializer,
        "fixed_representation",
        lambda self, obj: rendered.append(obj.pk) or fixed(self, obj),
    )

    second = recs(api, company)

    assert rendered == []
    assert [r["content"] for r in second] == [r["content"] for r in first]
    assert [r["times_presented"] for r in second] == [2, 2, 2]
    assert [r["is_new"] for r in first] == [True] * 3
    assert [r["is_new"] for r in second] == [False] * 3
    assert provider.calls == 3


def test_a_cached_representation_is_what_the_declared_fields_render(company, steps):
    context = services.current_snapshot(company=company).context_hash
    rec = make_recommendation(
        company=company,
        context_hash=context,
        step=steps[0],
        started_at=timezone.now(),
        user_feedback={"rating": 4},
    )
    rec = Recommendation.objects.select_related("step__domain").get(pk=rec.pk)
    uncached = dict(
        super(RecommendationSerializer, RecommendationSerializer()).to_representation(rec)
    )

    assert RecommendationSerializer(rec).data == uncached  # made and cached
    assert RecommendationSerializer(rec).data == uncached  # from the cache
    assert list(RecommendationSerializer(rec).data) == list(uncached)


def test_a_step_change_shows_in_the_journey_and_makes_new_content(api, company, steps, provider):
    before = recs(api, company)
    assert journey(api, company)[0]["steps"][0]["status"] == "not_started"

    response = api.post(
        reverse("company-step-progress", args=[company.pk, steps[0].pk]),
        {"status": "completed"},
        format="json",
    )

    assert response.status_code == 200
    assert journey(api, company)[0]["steps"][0]["status"] == "completed"
    assert journey(api, company)[0]["completed_count"] == 1
    after = recs(api, company)
    assert {r["context_hash"] for r in after} != {r["context_hash"] for r in before}
    assert steps[0].slug not in [r["step"]["slug"] for r in after]


def test_a_prompt_rollback_serves_the_earlier_versions_content_again(api, company, provider):
    v1 = health(api, company)
    active = Prompt.objects.get(key="health_summary", is_active=True)
    new_version_from(prompt=active, activate=True, template=active.template + "\nBe brief.")
    v2 = health(api, company)
    assert v2["prompt_version"] == v1["prompt_version"] + 1
    assert provider.calls == 2

    rollback_prompt(key="health_summary")

    back = health(api, company)
    assert back["prompt_version"] == v1["prompt_version"]
    assert back["content"] == v1["content"]
    assert provider.calls == 2  # the earlier artefact, not a new call


def test_an_admin_edit_of_content_shows_at_once(api, admin_client, company, provider):
    before = health(api, company)
    row = HealthSummary.objects.get(pk=before["id"])
    edited = {**row.content, "headline": "Edited by an admin"}

    response = admin_client.post(
        reverse("admin:recommendations_healthsummary_change", args=[row.pk]),
        content_form_data(HealthSummaryOutput, edited),
    )

    assert response.status_code == 302, response.content
    assert health(api, company)["content"]["headline"] == "Edited by an admin"


def test_a_journey_edit_in_the_admin_shows_in_every_companys_journey(
    api, admin_client, company, steps
):
    assert journey(api, company)[0]["steps"][0]["name"] == steps[0].name
    step = JourneyStep.objects.get(pk=steps[0].pk)

    response = admin_client.post(
        reverse("admin:recommendations_journeystep_change", args=[step.pk]),
        {
            "domain": step.domain_id,
            "slug": step.slug,
            "name": "Renamed step",
            "description": step.description,
            "order": step.order,
        },
    )

    assert response.status_code == 302, response.content
    assert journey(api, company)[0]["steps"][0]["name"] == "Renamed step"


@pytest.mark.parametrize("reads", [1, 3])
def test_lookups_are_read_once_per_company_version(
    api, company, steps, provider, reads, django_assert_max_num_queries
):
    journey(api, company)  # fills the cache
    for _ in range(reads):
        # The force-authenticated client: the membership is the one query left.
        with django_assert_max_num_queries(1):
            journey(api, company)
