from django.urls import reverse

from generation.errors import ProviderError
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import ContextSnapshot, HealthSummary, Insight
from tests.recommendations.builders import make_health, make_insight


def insights_url(company, **params):
    url = reverse("company-insights", args=[company.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_insights_of_a_domain_are_made_once_and_sorted_by_relevance(api, company, steps, provider):
    domain = steps[0].domain

    first = api.get(insights_url(company, domain=domain.pk))
    second = api.get(insights_url(company, domain=domain.pk))

    assert first.status_code == 200
    assert provider.calls == 1  # one artefact holds the domain's insights
    results = second.json()["results"]
    assert results
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.5 <= s <= 1.0 for s in scores)
    assert all(r["domain"] == domain.slug and r["step"] is None for r in results)
    assert all(r["times_presented"] == 2 for r in results)


def test_insights_of_a_step_are_their_own_artefact(api, company, steps, provider):
    api.get(insights_url(company, domain=steps[0].domain.pk))

    response = api.get(insights_url(company, step=steps[1].pk))

    assert provider.calls == 2
    assert {r["step"]["id"] for r in response.json()["results"]} == {steps[1].pk}


def test_a_step_outside_the_domain_is_400(api, company, steps, provider):
    response = api.get(insights_url(company, domain=steps[0].domain.pk, step=steps[7].pk))
    assert response.status_code == 400
    assert provider.calls == 0


def test_without_a_filter_insights_are_for_the_next_steps_domain(api, company, steps, provider):
    for step in steps[:5]:
        services.update_step_progress(company=company, step=step, status="completed")

    results = api.get(insights_url(company)).json()["results"]

    assert {r["domain"] for r in results} == {steps[5].domain.slug}


def test_insights_of_an_earlier_context_are_served_when_the_provider_is_down(
    api, company, steps, provider
):
    domain = steps[0].domain
    api.get(insights_url(company, domain=domain.pk))
    services.update_step_progress(company=company, step=steps[0], status="completed")
    provider.fail_with = ProviderError("down", transient=False)

    response = api.get(insights_url(company, domain=domain.pk))

    assert response.status_code == 200
    results = response.json()["results"]
    assert results and all(r["is_fallback"] and r["status"] == Status.STALE for r in results)


def test_health_is_one_per_company_and_context(api, company, steps, provider):
    url = reverse("company-health", args=[company.pk])
    first = api.get(url).json()
    second = api.get(url).json()
    assert provider.calls == 1
    assert first["id"] == second["id"]
    assert second["times_presented"] == 2 and second["status"] == Status.ACTIVE
    assert 0 <= second["content"]["score"] <= 100

    services.update_step_progress(company=company, step=steps[0], status="in_progress")
    third = api.get(url).json()

    assert provider.calls == 2
    assert third["id"] != first["id"]
    assert HealthSummary.objects.get(pk=first["id"]).status == Status.STALE
    assert third["context_hash"] == ContextSnapshot.objects.get(is_current=True).context_hash


def test_health_falls_back_to_the_last_summary_when_the_provider_is_down(
    api, company, steps, provider
):
    older = make_health(company=company, context_hash="b" * 64, status=Status.STALE)
    provider.fail_with = ProviderError("down", transient=False)

    response = api.get(reverse("company-health", args=[company.pk]))

    assert response.status_code == 200
    assert response.json()["id"] == older.pk
    assert response.json()["is_fallback"] is True


def test_health_without_any_summary_and_no_provider_is_503(api, company, steps, provider):
    provider.fail_with = ProviderError("down", transient=False)

    response = api.get(reverse("company-health", args=[company.pk]))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"


def test_expired_insights_are_served_stale_then_replaced_by_one_refresh(
    api, company, steps, provider, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from generation import tasks
    from generation.models import Generation

    domain = steps[0].domain
    api.get(insights_url(company, domain=domain.pk))
    old_ids = set(Insight.objects.values_list("pk", flat=True))
    Insight.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks() as queued:
        served = api.get(insights_url(company, domain=domain.pk)).json()["results"]

    assert provider.calls == 1 and len(queued) == 1
    assert {r["id"] for r in served} == old_ids
    assert {r["status"] for r in served} == {Status.STALE}
    generation = Generation.objects.get(kind="insight")
    tasks.revalidate(generation.pk, generation.owner)  # what the cluster runs

    response = api.get(insights_url(company, domain=domain.pk))

    assert provider.calls == 2
    new_ids = {r["id"] for r in response.json()["results"]}
    assert len(new_ids) == len(old_ids) and not new_ids & old_ids
    assert set(Insight.objects.filter(pk__in=old_ids).values_list("status", flat=True)) == {
        Status.STALE
    }


def test_the_insight_relevance_range_is_a_database_rule(company):
    import pytest
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        make_insight(company=company, context_hash="c" * 64, relevance_score=0.2)
