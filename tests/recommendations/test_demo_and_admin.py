import io

from django.contrib.admin.sites import site
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from companies.models import Company
from recommendations.lifecycle import Status
from recommendations.models import (
    CompanyStepProgress,
    ContextSnapshot,
    HealthSummary,
    Insight,
    JourneyDomain,
    JourneyStep,
    Recommendation,
    RecommendationEffectiveness,
    StepStatus,
)
from tests.recommendations.builders import make_recommendation


def test_load_demo_makes_a_journey_and_two_companies_and_is_idempotent(db):
    call_command("load_demo", stdout=io.StringIO())
    counts = (
        JourneyDomain.objects.count(),
        JourneyStep.objects.count(),
        CompanyStepProgress.objects.count(),
        ContextSnapshot.objects.count(),
    )

    call_command("load_demo", stdout=io.StringIO())

    assert counts == (
        JourneyDomain.objects.count(),
        JourneyStep.objects.count(),
        CompanyStepProgress.objects.count(),
        ContextSnapshot.objects.count(),
    )
    assert counts[0] >= 4 and counts[1] >= 20
    done = {
        c.name: c.step_progress.filter(status=StepStatus.COMPLETED).count()
        for c in Company.objects.filter(slug__in=["acme-demo", "birch-co-demo"])
    }
    assert len(done) == 2 and done["Acme Demo"] < done["Birch & Co Demo"]
    demo = Company.objects.filter(memberships__user__username="demo")
    assert set(demo.values_list("slug", flat=True)) >= {"acme-demo", "birch-co-demo"}


def test_every_model_has_an_admin():
    for model in (
        JourneyDomain,
        JourneyStep,
        CompanyStepProgress,
        ContextSnapshot,
        Recommendation,
        Insight,
        HealthSummary,
        RecommendationEffectiveness,
    ):
        assert site.is_registered(model), model


def admin_client(django_user_model) -> Client:
    user = django_user_model.objects.create_superuser("root", password="x")
    client = Client()
    client.force_login(user)
    return client


def test_admin_lists_filter_by_company_and_status(db, django_user_model, company):
    make_recommendation(company=company, context_hash="0" * 64)
    client = admin_client(django_user_model)

    for name in ("recommendation", "insight", "healthsummary", "recommendationeffectiveness"):
        url = reverse(f"admin:recommendations_{name}_changelist")
        assert client.get(url + f"?company__id__exact={company.pk}").status_code == 200
    url = reverse("admin:recommendations_recommendation_changelist")
    assert client.get(url + "?status__exact=fresh").status_code == 200


def test_admin_mark_stale_action_follows_the_lifecycle(db, django_user_model, company):
    fresh = make_recommendation(company=company, context_hash="0" * 64)
    done = make_recommendation(company=company, context_hash="0" * 64, status=Status.COMPLETED)
    client = admin_client(django_user_model)

    client.post(
        reverse("admin:recommendations_recommendation_changelist"),
        {"action": "mark_stale", "_selected_action": [fresh.pk, done.pk]},
    )

    fresh.refresh_from_db()
    done.refresh_from_db()
    assert fresh.status == Status.STALE
    assert done.status == Status.COMPLETED  # completed is terminal


def run_queued_refreshes() -> int:
    """Run the background refreshes the admin queued (what the cluster would do)."""
    from generation import tasks
    from generation.models import Generation

    claimed = Generation.objects.filter(status="completed").exclude(owner="")
    for generation in claimed:
        tasks.revalidate(generation.pk, generation.owner)
    return len(claimed)


def test_admin_regenerate_queues_the_refresh_and_replaces_the_rows(
    db, django_user_model, company, steps, provider, django_capture_on_commit_callbacks
):
    from recommendations import services

    services.recommendations_for(company=company)
    old = list(Recommendation.objects.all())
    client = admin_client(django_user_model)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            reverse("admin:recommendations_recommendation_changelist"),
            {"action": "regenerate", "_selected_action": [r.pk for r in old]},
            follow=True,
        )

    # The request asked the model nothing: three refreshes are queued, the rows keep
    # serving, marked as being regenerated.
    assert provider.calls == 3
    assert len(queued) == 3
    assert "3 regeneration(s) queued" in response.content.decode()
    assert Recommendation.objects.filter(status=Status.REGENERATING).count() == 3

    assert run_queued_refreshes() == 3

    assert provider.calls == 6
    assert Recommendation.objects.filter(status=Status.STALE).count() == 3
    assert Recommendation.objects.filter(status=Status.FRESH).count() == 3


def test_load_demo_sets_the_demo_password_once(db):
    from django.contrib.auth import get_user_model

    call_command("load_demo", stdout=io.StringIO())
    user = get_user_model().objects.get(username="demo")
    assert user.check_password("demo")
    user.set_password("changed-by-the-user")
    user.save()

    call_command("load_demo", stdout=io.StringIO())

    user.refresh_from_db()
    assert user.check_password("changed-by-the-user")  # nobody is signed out


def test_bootstrap_makes_the_journey_without_demo_companies(db):
    out = io.StringIO()
    call_command("bootstrap", stdout=out)
    call_command("bootstrap", stdout=io.StringIO())

    assert JourneyDomain.objects.count() == 4 and JourneyStep.objects.count() == 20
    assert not Company.objects.exists()
    assert "createsuperuser" in out.getvalue()
