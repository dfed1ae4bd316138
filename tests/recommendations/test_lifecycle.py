import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.errors import IllegalTransition
from recommendations.lifecycle import ALLOWED, Status
from recommendations.models import Recommendation, RecommendationEffectiveness
from tests.builders import make_member
from tests.recommendations.builders import make_recommendation

HASH = "a" * 64


def post(api, name, rec, data=None):
    return api.post(reverse(name, args=[rec.pk]), data or {}, format="json")


def test_the_lifecycle_table_allows_only_the_design_edges():
    edges = {(a, b) for a, targets in ALLOWED.items() for b in targets}
    assert edges == {
        (Status.FRESH, Status.ACTIVE),
        (Status.FRESH, Status.STALE),
        (Status.ACTIVE, Status.COMPLETED),
        (Status.ACTIVE, Status.STALE),
        (Status.FRESH, Status.REGENERATING),
        (Status.ACTIVE, Status.REGENERATING),
        (Status.REGENERATING, Status.STALE),
    }


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.FRESH, Status.COMPLETED),
        (Status.STALE, Status.ACTIVE),
        (Status.STALE, Status.FRESH),
        (Status.COMPLETED, Status.STALE),
        (Status.COMPLETED, Status.ACTIVE),
        (Status.ACTIVE, Status.FRESH),
    ],
)
def test_transition_to_refuses_an_edge_outside_the_table(company, start, target):
    rec = make_recommendation(company=company, context_hash=HASH, status=start)
    with pytest.raises(IllegalTransition):
        rec.transition_to(target)
    rec.refresh_from_db()
    assert rec.status == start


def test_the_database_refuses_an_unknown_status(company):
    from django.db import IntegrityError, transaction

    rec = make_recommendation(company=company, context_hash=HASH)
    with pytest.raises(IntegrityError), transaction.atomic():
        Recommendation.objects.filter(pk=rec.pk).update(status="archived")


def test_start_then_complete_records_effectiveness(api, company):
    rec = make_recommendation(company=company, context_hash=HASH)

    started = post(api, "recommendation-start", rec)
    completed = post(api, "recommendation-complete", rec)

    assert started.status_code == 200
    assert started.json()["status"] == Status.ACTIVE
    assert started.json()["times_presented"] == 1  # becoming active is a showing
    assert completed.status_code == 200
    assert completed.json()["status"] == Status.COMPLETED
    eff = RecommendationEffectiveness.objects.get(recommendation=rec)
    assert eff.was_started and eff.was_completed
    assert eff.time_to_start is not None and eff.time_to_complete >= eff.time_to_start


def test_starting_twice_keeps_the_first_start_time(api, company):
    rec = make_recommendation(company=company, context_hash=HASH, status=Status.ACTIVE)
    post(api, "recommendation-start", rec)
    first = RecommendationEffectiveness.objects.get(recommendation=rec).time_to_start

    assert post(api, "recommendation-start", rec).status_code == 200
    assert RecommendationEffectiveness.objects.get(recommendation=rec).time_to_start == first


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.FRESH, "recommendation-complete"),
        (Status.COMPLETED, "recommendation-complete"),
        (Status.COMPLETED, "recommendation-start"),
        (Status.STALE, "recommendation-start"),
        (Status.STALE, "recommendation-complete"),
    ],
)
def test_an_illegal_transition_is_409_and_changes_nothing(api, company, status, action):
    rec = make_recommendation(company=company, context_hash=HASH, status=status)
    before = Recommendation.objects.filter(pk=rec.pk).values().get()

    response = post(api, action, rec)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"
    assert Recommendation.objects.filter(pk=rec.pk).values().get() == before
    assert not RecommendationEffectiveness.objects.exists()


@pytest.mark.parametrize(
    "action", ["recommendation-start", "recommendation-complete", "recommendation-feedback"]
)
def test_another_companys_recommendation_is_404(api, other_company, action):
    rec = make_recommendation(company=other_company, context_hash=HASH, status=Status.ACTIVE)

    response = post(api, action, rec, {"rating": 5})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    rec.refresh_from_db()
    assert rec.status == Status.ACTIVE and rec.user_feedback is None


@pytest.mark.parametrize(
    "name", ["company-recommendations", "company-insights", "company-health", "company-journey"]
)
def test_another_companys_lists_are_404(api, other_company, provider, name):
    response = api.get(reverse(name, args=[other_company.pk]))
    assert response.status_code == 404
    assert provider.calls == 0


def test_another_companys_step_progress_is_404(api, other_company, steps):
    response = api.post(
        reverse("company-step-progress", args=[other_company.pk, steps[0].pk]),
        {"status": "completed"},
        format="json",
    )
    assert response.status_code == 404
    assert not other_company.step_progress.exists()


def test_a_viewer_cannot_start_a_recommendation(company):
    rec = make_recommendation(company=company, context_hash=HASH)
    viewer = make_member(company=company, role="viewer")
    client = APIClient()
    client.force_authenticate(viewer.user)

    response = post(client, "recommendation-start", rec)

    assert response.status_code == 403
    rec.refresh_from_db()
    assert rec.status == Status.FRESH


def test_feedback_is_kept_and_validated(api, company):
    rec = make_recommendation(company=company, context_hash=HASH, status=Status.ACTIVE)

    bad = post(api, "recommendation-feedback", rec, {"rating": 9})
    good = post(
        api, "recommendation-feedback", rec, {"rating": 4, "helpful": True, "comment": "Useful"}
    )

    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"
    assert good.status_code == 200
    rec.refresh_from_db()
    assert rec.user_feedback["rating"] == 4 and rec.user_feedback["comment"] == "Useful"


def test_completing_a_step_completes_its_started_recommendation(api, company, steps, provider):
    data = api.get(reverse("company-recommendations", args=[company.pk])).json()
    target = next(r for r in data if r["step"]["id"] == steps[0].pk)
    post(api, "recommendation-start", Recommendation.objects.get(pk=target["id"]))

    api.post(
        reverse("company-step-progress", args=[company.pk, steps[0].pk]),
        {"status": "completed"},
        format="json",
    )

    rec = Recommendation.objects.get(pk=target["id"])
    assert rec.status == Status.COMPLETED
    assert RecommendationEffectiveness.objects.get(recommendation=rec).was_completed
    others = Recommendation.objects.exclude(pk=rec.pk)
    assert set(others.values_list("status", flat=True)) == {Status.STALE}


def test_effectiveness_is_listed_for_the_company(api, company, other_company):
    mine = make_recommendation(company=company, context_hash=HASH)
    theirs = make_recommendation(company=other_company, context_hash=HASH)
    post(api, "recommendation-start", mine)
    RecommendationEffectiveness.objects.create(
        recommendation=theirs, company=other_company, was_started=True
    )

    response = api.get(reverse("company-effectiveness", args=[company.pk]))

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["recommendation"] for r in results] == [mine.pk]
    assert results[0]["was_started"] is True and results[0]["was_completed"] is False


def test_the_api_needs_a_login(anon_api, company, provider):
    response = anon_api.get(reverse("company-recommendations", args=[company.pk]))
    assert response.status_code in (401, 403)
    assert provider.calls == 0
