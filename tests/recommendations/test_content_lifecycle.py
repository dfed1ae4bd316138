"""The content lifecycle's promises, through the API against the fake OpenAI server:
fallback when the model is down, rollback with 0 calls, expiry served stale while one
refresh is queued, true usage figures and one answer for a spent budget."""

import time
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from generation import tasks
from generation.models import Generation, Prompt
from generation.prompts import active_prompt, new_version_from, rollback_prompt
from generation.writebehind import flush_now
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import HealthSummary, Insight, Recommendation


def recs_url(company):
    return reverse("company-recommendations", args=[company.pk])


def health_url(company):
    return reverse("company-health", args=[company.pk])


def insights_url(company, domain):
    return reverse("company-insights", args=[company.pk]) + f"?domain={domain.pk}"


def usage(api, kind):
    flush_now()
    return api.get(reverse("usage-api") + f"?kind={kind}").json()["totals"]


def run_queued_refreshes() -> int:
    """What the cluster does with the queued refreshes."""
    claimed = list(Generation.objects.filter(status="completed").exclude(owner=""))
    for generation in claimed:
        tasks.revalidate(generation.pk, generation.owner)
    return len(claimed)


# --- fallback ---------------------------------------------------------------------------


def test_recommendations_serve_earlier_ones_marked_fallback_when_the_model_is_down(
    api, company, steps, fake_openai
):
    first = api.get(recs_url(company)).json()
    assert fake_openai.calls == 3
    services.update_step_progress(company=company, step=steps[4], status="in_progress")
    fake_openai.fail(500, times=None)

    response = api.get(recs_url(company))

    assert response.status_code == 200
    data = response.json()
    assert {r["id"] for r in data} == {r["id"] for r in first}
    assert all(r["is_fallback"] for r in data)
    assert {r["status"] for r in data} == {Status.STALE}


def test_recommendations_are_503_only_when_the_company_never_had_any(
    api, company, steps, fake_openai
):
    fake_openai.fail(500, times=None)

    response = api.get(recs_url(company))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"


def test_degraded_reads_within_the_cooldown_answer_at_once_with_0_calls(
    api, company, steps, fake_openai
):
    api.get(recs_url(company))
    api.get(health_url(company))
    services.update_step_progress(company=company, step=steps[4], status="in_progress")
    fake_openai.fail(500, times=None)
    api.get(recs_url(company))
    api.get(health_url(company))
    calls = fake_openai.calls

    started = time.monotonic()
    recs = api.get(recs_url(company))
    health = api.get(health_url(company))
    elapsed = time.monotonic() - started

    assert fake_openai.calls == calls  # the failed keys are not asked again
    assert elapsed < 1.0
    assert recs.status_code == health.status_code == 200
    assert all(r["is_fallback"] for r in recs.json())
    assert health.json()["is_fallback"]


def test_a_started_recommendation_stays_listed_after_a_context_change(
    api, company, steps, provider
):
    first = api.get(recs_url(company)).json()
    working_on = first[-1]["id"]
    api.post(reverse("recommendation-start", args=[working_on]))

    services.update_step_progress(company=company, step=steps[6], status="in_progress")
    data = api.get(recs_url(company)).json()

    assert len(data) == 3
    assert data[0]["id"] == working_on
    assert data[0]["started_at"] is not None


# --- one answer for a spent budget ------------------------------------------------------


def test_a_spent_budget_is_429_with_retry_after_on_every_endpoint(api, company, steps, fake_openai):
    company.daily_token_budget = 0
    company.save(update_fields=["daily_token_budget"])

    for url in (recs_url(company), health_url(company), insights_url(company, steps[0].domain)):
        response = api.get(url)
        assert response.status_code == 429, url
        assert response.json()["error"]["code"] == "budget_exceeded"
        assert int(response["Retry-After"]) > 0
    assert fake_openai.calls == 0


# --- rollback ---------------------------------------------------------------------------


def test_rolling_back_the_health_prompt_serves_the_earlier_summary_with_0_calls(
    api, company, steps, fake_openai
):
    v1 = api.get(health_url(company)).json()
    new_version_from(prompt=active_prompt(key="health_summary"), activate=True, notes="wording")
    v2 = api.get(health_url(company)).json()
    assert fake_openai.calls == 2
    assert v2["prompt_version"] == v1["prompt_version"] + 1

    rollback_prompt(key="health_summary")
    back = api.get(health_url(company)).json()

    assert fake_openai.calls == 2
    assert back["content"] == v1["content"]
    assert back["prompt_version"] == v1["prompt_version"]
    assert back["status"] == Status.ACTIVE and not back["is_fallback"]
    assert HealthSummary.objects.filter(status__in=["fresh", "active"]).count() == 1


def test_rolling_back_the_recommendation_prompt_serves_the_earlier_ones_with_0_calls(
    api, company, steps, fake_openai
):
    v1 = {r["step"]["id"]: r["content"] for r in api.get(recs_url(company)).json()}
    new_version_from(prompt=active_prompt(key="recommendation"), activate=True)
    api.get(recs_url(company))
    assert fake_openai.calls == 6

    rollback_prompt(key="recommendation")
    back = api.get(recs_url(company)).json()

    assert fake_openai.calls == 6
    assert {r["step"]["id"]: r["content"] for r in back} == v1


# --- expiry -----------------------------------------------------------------------------


def test_expired_health_is_served_stale_while_one_refresh_is_queued(
    api, company, steps, fake_openai, django_capture_on_commit_callbacks
):
    before = api.get(health_url(company)).json()
    HealthSummary.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks() as queued:
        first = api.get(health_url(company)).json()
        second = api.get(health_url(company)).json()

    assert fake_openai.calls == 1  # the reads made no call
    assert first["status"] == second["status"] == Status.STALE
    assert first["content"] == before["content"]
    assert len(queued) == 1  # one refresh for both reads

    assert run_queued_refreshes() == 1
    after = api.get(health_url(company)).json()

    assert fake_openai.calls == 2
    assert after["id"] != before["id"] and after["status"] == Status.ACTIVE


def test_expired_recommendations_are_served_stale_and_refreshed_once_each(
    api, company, steps, fake_openai, django_capture_on_commit_callbacks
):
    api.get(recs_url(company))
    Recommendation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks() as queued:
        data = api.get(recs_url(company)).json()
        api.get(recs_url(company))

    assert {r["status"] for r in data} == {Status.STALE}
    assert len(queued) == 3 and fake_openai.calls == 3
    run_queued_refreshes()
    assert fake_openai.calls == 6
    fresh = api.get(recs_url(company)).json()
    assert len(fresh) == 3 and not {r["id"] for r in fresh} & {r["id"] for r in data}


# --- usage figures ----------------------------------------------------------------------


def test_a_cached_insight_read_is_a_hit(api, company, steps, provider):
    url = insights_url(company, steps[0].domain)
    api.get(url)
    api.get(url)

    totals = usage(api, "insight")

    assert provider.calls == 1
    assert totals["cache_hits"] == 1
    assert totals["fallback_reads"] == 0


def test_a_fallback_read_is_its_own_figure_not_a_call_saved(api, company, steps, fake_openai):
    api.get(health_url(company))
    services.update_step_progress(company=company, step=steps[0], status="in_progress")
    fake_openai.fail(500, times=None)

    response = api.get(health_url(company))

    assert response.json()["is_fallback"]
    totals = usage(api, "health_summary")
    assert totals["cache_hits"] == 0 and totals["calls_saved"] == 0
    assert totals["fallback_reads"] == 1


def test_a_fallback_recommendations_read_counts_once(api, company, steps, fake_openai):
    api.get(recs_url(company))
    services.update_step_progress(company=company, step=steps[4], status="in_progress")
    fake_openai.fail(500, times=None)

    api.get(recs_url(company))

    totals = usage(api, "recommendation")
    assert totals["cache_hits"] == 0
    assert totals["fallback_reads"] == 1


# --- stale by hand ----------------------------------------------------------------------


def test_an_insight_marked_stale_by_hand_is_served_again_from_its_artefact(
    api, company, steps, provider
):
    url = insights_url(company, steps[0].domain)
    before = {r["content"] for r in api.get(url).json()["results"]}
    Insight.objects.update(status=Status.STALE)

    after = {r["content"] for r in api.get(url).json()["results"]}

    assert provider.calls == 1  # same inputs, same prompt: the stored artefact
    assert after == before
    assert Prompt.objects.filter(key="insight", is_active=True).count() == 1


# --- the dashboard reads what the API reads ---------------------------------------------


def test_the_dashboard_shows_the_earlier_insights_and_recommendations_the_api_serves(
    api, member, company, steps, fake_openai
):
    from django.test import Client

    domain = steps[0].domain
    api.get(recs_url(company))
    api.get(insights_url(company, domain))
    api.get(health_url(company))
    services.update_step_progress(company=company, step=steps[1], status="in_progress")
    fake_openai.fail(500, times=None)
    served = api.get(insights_url(company, domain)).json()["results"]
    recs = api.get(recs_url(company)).json()
    assert served and all(r["is_fallback"] for r in served)

    client = Client()
    client.force_login(member.user)
    page = client.get(reverse("company-dashboard", args=[company.pk]))

    assert page.status_code == 200
    shown = page.context["page"]
    assert [card.item.pk for card in shown.insights] == [r["id"] for r in served[:5]]
    assert [card.item.pk for card in shown.recommendations] == [r["id"] for r in recs]
    assert "No insights right now." not in page.content.decode()


def test_the_dashboard_answers_a_spent_budget_without_an_error(member, company, steps, fake_openai):
    from django.test import Client

    company.daily_token_budget = 0
    company.save(update_fields=["daily_token_budget"])
    client = Client()
    client.force_login(member.user)

    page = client.get(reverse("company-dashboard", args=[company.pk]))

    assert page.status_code == 200
    assert fake_openai.calls == 0
