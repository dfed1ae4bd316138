from django.test import Client
from django.urls import reverse

from generation.errors import ProviderError
from recommendations import services
from recommendations.lifecycle import Status
from recommendations.models import Recommendation
from tests.recommendations.builders import make_recommendation


def logged_in(member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def test_home_lists_only_my_companies(member, company, other_company):
    page = logged_in(member).get("/")

    assert page.status_code == 200
    assert company.name in page.text
    assert other_company.name not in page.text
    assert reverse("company-dashboard", args=[company.pk]) in page.text


def test_pages_need_a_login(company):
    response = Client().get(reverse("company-dashboard", args=[company.pk]))
    assert response.status_code == 302


def test_the_dashboard_shows_journey_recommendations_insights_and_health(
    member, company, steps, provider
):
    page = logged_in(member).get(reverse("company-dashboard", args=[company.pk]))

    assert page.status_code == 200
    assert provider.calls == 5  # 3 recommendations, 1 insight set, 1 health summary
    for section in ('id="journey"', 'id="recommendations"', 'id="insights"', 'id="health"'):
        assert section in page.text
    assert steps[0].domain.name in page.text
    assert 'class="badge offline"' in page.text
    assert Recommendation.objects.filter(status=Status.ACTIVE).count() == 3

    logged_in(member).get(reverse("company-dashboard", args=[company.pk]))
    assert provider.calls == 5


def test_model_text_is_rendered_as_clean_markdown(member, company, steps, provider):
    context = services.current_snapshot(company=company).context_hash
    for step in steps[:3]:
        make_recommendation(
            company=company,
            context_hash=context,
            step=step,
            content={
                "title": "<b>Bold</b> move",
                "summary": "**Do** it <script>alert('x')</script>",
                "actions": ["<img src=x onerror=alert(1)>"],
            },
        )

    page = logged_in(member).get(reverse("company-dashboard", args=[company.pk]))

    assert "<strong>Do</strong>" in page.text
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;b&gt;Bold&lt;/b&gt; move" in page.text


def test_content_of_an_earlier_context_is_labelled(member, company, steps, provider):
    make_recommendation(company=company, context_hash="0" * 64, step=steps[0])
    provider.fail_with = ProviderError("down", transient=False)

    page = logged_in(member).get(reverse("company-dashboard", args=[company.pk]))

    assert page.status_code == 200
    assert "earlier context" in page.text
    assert "unavailable" in page.text  # the provider being down is said, not hidden


def test_another_companys_dashboard_is_404(member, other_company, provider):
    response = logged_in(member).get(reverse("company-dashboard", args=[other_company.pk]))
    assert response.status_code == 404
    assert provider.calls == 0
