"""The write operations of the journey, recommendations and deliverables check their
whole body before they act: an invalid one is a 400 in the error shape that changes
no row and asks no model."""

import pytest
from django.urls import reverse

from deliverables.models import Deliverable
from generation.models import Generation, GenerationLog
from recommendations.models import (
    CompanyStepProgress,
    ContextSnapshot,
    Recommendation,
    RecommendationEffectiveness,
)
from tests.deliverables.builders import make_deliverables, make_workspace
from tests.recommendations.builders import make_recommendation

BAD_FEEDBACK = [
    {},
    {"rating": 0},
    {"rating": 6},
    {"rating": "abc"},
    {"rating": 4.5},
    {"rating": 4, "helpful": "maybe"},
    {"rating": 4, "comment": "x" * 2001},
    [{"rating": 4}],
]
BAD_STEP = [{}, {"status": "done"}, {"status": ""}, {"status": 3}, [{"status": "completed"}]]
BAD_DELIVERABLE = [
    {},
    {"title": ""},
    {"title": "x" * 301},
    {"status": "nonsense"},
    {"content": "text"},
    {"content": 3},
    [{"title": "ok"}],
]


def traces() -> dict:
    models = (
        Recommendation,
        RecommendationEffectiveness,
        CompanyStepProgress,
        ContextSnapshot,
        Generation,
        GenerationLog,
    )
    rows = {model.__name__: model.objects.count() for model in models}
    rows["feedback"] = list(Recommendation.objects.values_list("user_feedback", flat=True))
    rows["deliverables"] = list(Deliverable.objects.values_list("title", "status", "content"))
    return rows


def assert_refused(response) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("body", BAD_FEEDBACK)
def test_bad_feedback_changes_nothing(api, company, provider, body):
    rec = make_recommendation(company=company, context_hash="0" * 64)
    before = traces()

    assert_refused(api.post(f"/api/recommendations/{rec.pk}/feedback/", body, format="json"))

    assert traces() == before and provider.calls == 0


@pytest.mark.parametrize("body", BAD_STEP)
def test_a_bad_step_status_changes_nothing(api, company, steps, provider, body):
    url = reverse("company-step-progress", args=[company.pk, steps[0].pk])
    before = traces()

    assert_refused(api.post(url, body, format="json"))

    assert traces() == before and provider.calls == 0


@pytest.mark.parametrize("body", BAD_DELIVERABLE)
def test_a_bad_deliverable_edit_changes_nothing(api, company, provider, body):
    [deliverable] = make_deliverables(workspace=make_workspace(company=company), count=1)
    before = traces()

    assert_refused(api.patch(f"/api/deliverables/{deliverable.pk}/", body, format="json"))

    assert traces() == before and provider.calls == 0
