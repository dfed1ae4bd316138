"""Actions on the dashboard answer at once, and a page's own re-reads are not reads."""

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import HitCounter
from generation.writebehind import flush_now
from recommendations.models import CompanyStepProgress, Recommendation
from tests.builders import run_queued_tasks

JSON = {"HTTP_ACCEPT": "application/json", "HTTP_X_REQUESTED_WITH": "fetch"}


@pytest.fixture
def client(member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


@pytest.fixture
def dashboard(company) -> str:
    return reverse("company-dashboard", args=[company.pk])


@pytest.fixture
def written(client, dashboard, provider, open_page) -> None:
    """The dashboard opened once and its content written in the background."""
    open_page(client, dashboard)
    run_queued_tasks()


def hits() -> int:
    flush_now()
    return sum(HitCounter.objects.values_list("hits", flat=True))


def test_setting_a_step_answers_with_a_confirmation_and_no_model_call(
    client, company, steps, provider
):
    url = reverse("step-progress-page", args=[company.pk, steps[0].pk])

    response = client.post(url, {"status": "completed"}, **JSON)

    assert response.status_code == 200
    assert response.json() == {"message": f"Saved: {steps[0].name} is completed."}
    assert CompanyStepProgress.objects.get(company=company, step=steps[0]).status == "completed"
    assert provider.calls == 0


def test_a_refused_action_says_why_in_words(client, company, steps, written):
    rec = Recommendation.objects.filter(company=company).first()
    complete = reverse("recommendation-action-page", args=[company.pk, rec.pk, "complete"])
    feedback = reverse("recommendation-feedback-page", args=[company.pk, rec.pk])

    refused = client.post(complete, **JSON)
    no_rating = client.post(feedback, {"helpful": "yes"}, **JSON)

    assert refused.status_code == 409
    assert refused.json() == {"message": "It cannot be completed now."}
    assert no_rating.status_code == 400
    assert no_rating.json() == {"message": "Choose a rating from 1 to 5."}


def test_start_and_feedback_answer_with_their_confirmation(client, company, steps, written):
    rec = Recommendation.objects.filter(company=company).first()
    start = reverse("recommendation-action-page", args=[company.pk, rec.pk, "start"])
    feedback = reverse("recommendation-feedback-page", args=[company.pk, rec.pk])

    assert client.post(start, **JSON).json() == {"message": "Saved: started."}
    answer = client.post(feedback, {"rating": "4"}, **JSON)
    assert answer.json() == {"message": "Thank you for your feedback."}
    rec.refresh_from_db()
    assert rec.started_at is not None and rec.user_feedback["rating"] == 4


def test_a_pages_own_refreshes_count_no_cache_hits(client, dashboard, steps, written):
    before = hits()
    client.get(dashboard)
    opened = hits()

    for _ in range(3):
        client.get(dashboard, HTTP_X_EVERGREEN_REFRESH="1")

    assert opened > before  # a person opening the page is a read served from the cache
    assert hits() == opened  # the page re-reading its own regions is not
