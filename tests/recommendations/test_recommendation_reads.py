import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generation.errors import ProviderError
from generation.models import Generation
from generation.writebehind import flush_now
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import ContextSnapshot, Recommendation, StepStatus
from tests.builders import writes_in
from tests.recommendations.builders import make_recommendation


def recs_url(company, **params):
    url = reverse("company-recommendations", args=[company.pk])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def test_first_read_makes_one_call_per_recommendation_and_second_read_none(
    api, company, steps, provider
):
    first = api.get(recs_url(company))
    assert first.status_code == 200
    assert len(first.json()) == 3
    assert provider.calls == 3  # one per recommendation, first read only

    second = api.get(recs_url(company))
    assert second.status_code == 200
    assert provider.calls == 3
    assert [r["id"] for r in second.json()] == [r["id"] for r in first.json()]
    assert Recommendation.objects.filter(company=company).count() == 3


def test_limit_asks_only_for_the_missing_recommendations(api, company, steps, provider):
    api.get(recs_url(company, limit=2))
    assert provider.calls == 2

    response = api.get(recs_url(company, limit=5))

    assert len(response.json()) == 5
    assert provider.calls == 5  # 2 kept, 3 more made


def test_recommendations_follow_the_journey_in_progress_steps_first(
    api, company, member, steps, provider
):
    services.update_step_progress(company=company, step=steps[0], status=StepStatus.COMPLETED)
    services.update_step_progress(company=company, step=steps[7], status=StepStatus.IN_PROGRESS)

    data = api.get(recs_url(company)).json()

    assert {r["step"]["id"] for r in data} == {steps[7].pk, steps[1].pk, steps[2].pk}


def test_generated_recommendations_are_fresh_until_presented_then_active(
    api, company, steps, provider
):
    services.recommendations_for(company=company, present_rows=False)
    assert set(Recommendation.objects.values_list("status", flat=True)) == {Status.FRESH}
    assert set(Recommendation.objects.values_list("times_presented", flat=True)) == {0}

    data = api.get(recs_url(company)).json()

    assert all(r["status"] == Status.ACTIVE and r["is_new"] for r in data)
    rows = Recommendation.objects.all()
    assert {r.status for r in rows} == {Status.ACTIVE}
    assert all(r.last_presented_at is not None for r in rows)


def test_each_presentation_counts_and_only_the_first_is_new(api, company, steps, provider):
    api.get(recs_url(company))
    api.get(recs_url(company))
    third = api.get(recs_url(company)).json()

    assert [r["times_presented"] for r in third] == [3, 3, 3]
    assert not any(r["is_new"] for r in third)
    # The first showing (fresh -> active) is written at once, the others by the flush.
    assert set(Recommendation.objects.values_list("times_presented", flat=True)) == {1}
    flush_now()
    assert set(Recommendation.objects.values_list("times_presented", flat=True)) == {3}


def test_a_cached_read_writes_nothing_and_the_flush_writes_a_page_in_one_update(
    api, company, steps, provider
):
    api.get(recs_url(company))

    with CaptureQueriesContext(connection) as ctx:
        api.get(recs_url(company))
        api.get(recs_url(company))
    assert not writes_in(ctx.captured_queries)

    with CaptureQueriesContext(connection) as ctx:
        flush_now()
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    assert sum("recommendations_recommendation" in sql for sql in writes) == 1
    assert set(Recommendation.objects.values_list("times_presented", flat=True)) == {3}


def test_completing_a_step_changes_the_context_and_regenerates_once(api, company, steps, provider):
    before = api.get(recs_url(company)).json()
    old_hash = ContextSnapshot.objects.get(company=company, is_current=True).context_hash
    assert provider.calls == 3

    response = api.post(
        reverse("company-step-progress", args=[company.pk, steps[0].pk]),
        {"status": "completed"},
        format="json",
    )
    assert response.status_code == 200
    new_hash = ContextSnapshot.objects.get(company=company, is_current=True).context_hash
    assert new_hash != old_hash
    assert set(
        Recommendation.objects.filter(pk__in=[r["id"] for r in before]).values_list(
            "status", flat=True
        )
    ) == {Status.STALE}

    after = api.get(recs_url(company)).json()
    api.get(recs_url(company))

    assert provider.calls == 6  # three new ones, once
    assert {r["context_hash"] for r in after} == {new_hash}
    assert steps[0].pk not in {r["step"]["id"] for r in after}
    assert not any(r["is_fallback"] for r in after)


def test_the_same_status_again_is_no_context_change(api, company, steps, provider):
    url = reverse("company-step-progress", args=[company.pk, steps[0].pk])
    api.post(url, {"status": "in_progress"}, format="json")
    api.get(recs_url(company))

    api.post(url, {"status": "in_progress"}, format="json")
    api.get(recs_url(company))

    assert provider.calls == 3
    assert ContextSnapshot.objects.filter(company=company).count() == 1


def test_fallback_fills_with_older_live_recommendations_when_the_context_has_fewer(
    api, company, steps, provider
):
    first = api.get(recs_url(company)).json()
    started = first[0]["id"]
    assert api.post(reverse("recommendation-start", args=[started])).status_code == 200
    # Only one step of the journey is left, so the new context has one recommendation.
    for step in steps[:-1]:
        if step.pk != first[0]["step"]["id"]:
            services.update_step_progress(company=company, step=step, status="completed")
    calls = provider.calls

    data = api.get(recs_url(company)).json()

    assert provider.calls == calls + 1
    current = ContextSnapshot.objects.get(company=company, is_current=True).context_hash
    fresh = [r for r in data if not r["is_fallback"]]
    fallback = [r for r in data if r["is_fallback"]]
    assert [r["step"]["id"] for r in fresh] == [steps[-1].pk]
    assert fresh[0]["context_hash"] == current
    # The started one survived the context changes and fills the page.
    assert [r["id"] for r in fallback] == [started]
    assert fallback[0]["status"] == Status.ACTIVE


def test_fallback_serves_older_content_when_the_provider_is_down(api, company, steps, provider):
    old_hash = "0" * 64
    older = make_recommendation(
        company=company, context_hash=old_hash, step=steps[0], status=Status.ACTIVE
    )
    provider.fail_with = ProviderError("down", transient=False)

    response = api.get(recs_url(company))

    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == [older.pk]
    assert response.json()[0]["is_fallback"] is True
    assert provider.calls == 1  # a failing provider is not asked again for the next slot


def test_provider_down_without_earlier_content_is_503_with_the_error_shape(
    api, company, steps, provider
):
    provider.fail_with = ProviderError("down", transient=False)

    response = api.get(recs_url(company))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert not Recommendation.objects.exists()


def test_a_bad_limit_is_400(api, company, steps, provider):
    response = api.get(recs_url(company, limit=0))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert provider.calls == 0


def test_a_recommendation_whose_artefact_exists_is_rebuilt_without_a_call(
    api, company, steps, provider
):
    api.get(recs_url(company))
    Recommendation.objects.all().delete()  # the domain rows are lost, the artefacts are not

    data = api.get(recs_url(company)).json()

    assert len(data) == 3
    assert provider.calls == 3
    assert Generation.objects.filter(kind="recommendation").count() == 3


@pytest.mark.parametrize("status", ["completed", "in_progress"])
def test_progress_needs_a_write_role(anon_api, company, steps, status):
    from rest_framework.test import APIClient

    from tests.builders import make_member

    viewer = make_member(company=company, role="viewer")
    client = APIClient()
    client.force_authenticate(viewer.user)

    response = client.post(
        reverse("company-step-progress", args=[company.pk, steps[0].pk]),
        {"status": status},
        format="json",
    )

    assert response.status_code == 403
    assert not ContextSnapshot.objects.filter(company=company).exists()


def test_a_new_prompt_version_replaces_the_recommendations_once(api, company, steps, provider):
    from generation.models import Prompt
    from generation.prompts import new_version_from

    first = api.get(recs_url(company)).json()
    new_version_from(
        prompt=Prompt.objects.get(key="recommendation", is_active=True),
        instructions="Be brief.",
        activate=True,
    )

    second = api.get(recs_url(company)).json()
    api.get(recs_url(company))

    assert provider.calls == 6
    assert {r["prompt_version"] for r in second} == {2}
    assert set(
        Recommendation.objects.filter(pk__in=[r["id"] for r in first]).values_list(
            "status", flat=True
        )
    ) == {Status.STALE}
