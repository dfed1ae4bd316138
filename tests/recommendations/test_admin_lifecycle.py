"""The admin keeps the lifecycle's rules: nothing it offers crashes or bypasses a service,
and regenerating asks the model in the background, never inside the request."""

import pytest
from django.urls import reverse

from generation import tasks
from generation.models import Generation
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import CompanyDomainProgress, ContextSnapshot, Insight


@pytest.fixture
def admin(admin_client):
    return admin_client


@pytest.mark.parametrize("model", ["contextsnapshot", "recommendationeffectiveness"])
def test_rows_the_services_write_cannot_be_added_by_hand(admin, db, model):
    url = reverse(f"admin:recommendations_{model}_add")

    assert admin.get(url).status_code == 403
    assert admin.post(url, {}).status_code == 403


def test_regenerate_on_one_insight_queues_one_call_that_replaces_its_whole_set(
    admin, api, company, steps, provider, django_capture_on_commit_callbacks
):
    domain = steps[0].domain
    api.get(reverse("company-insights", args=[company.pk]) + f"?domain={domain.pk}")
    old = list(Insight.objects.all())
    # How many insights one call makes depends on the (offline) model's answer.
    assert old

    with django_capture_on_commit_callbacks() as queued:
        response = admin.post(
            reverse("admin:recommendations_insight_changelist"),
            {"action": "regenerate", "_selected_action": [old[0].pk]},
            follow=True,
        )

    assert "1 regeneration(s) queued" in response.content.decode()
    assert provider.calls == 1 and len(queued) == 1  # nothing asked inside the request
    # The whole set is marked, and keeps serving, until its new content lands.
    assert Insight.objects.filter(status=Status.REGENERATING).count() == len(old)
    generation = Generation.objects.get(kind="insight")
    tasks.revalidate(generation.pk, generation.owner)

    assert provider.calls == 2
    live = Insight.objects.filter(status__in=[Status.FRESH, Status.ACTIVE])
    assert live.count() == len(old)
    assert not set(live.values_list("pk", flat=True)) & {i.pk for i in old}


def test_a_domain_progress_edit_goes_through_the_service(admin, api, company, steps, provider):
    api.get(reverse("company-health", args=[company.pk]))
    services.update_step_progress(company=company, step=steps[0], status="completed")
    before = ContextSnapshot.objects.get(company=company, is_current=True).context_hash
    progress = CompanyDomainProgress.objects.get(company=company, domain=steps[0].domain)

    response = admin.post(
        reverse("admin:recommendations_companydomainprogress_change", args=[progress.pk]),
        {"maturity_level": 4},
    )

    assert response.status_code == 302
    current = ContextSnapshot.objects.get(company=company, is_current=True)
    assert current.context_hash != before
    assert current.context_data["domain_levels"][steps[0].domain.slug] == 4
    assert admin.get(reverse("admin:recommendations_companydomainprogress_add")).status_code == 403
