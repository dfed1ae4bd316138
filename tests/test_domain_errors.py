"""Domain errors reach API clients as their documented status and body, never a 500."""

import pytest
from django.urls import path
from rest_framework.test import APIClient
from rest_framework.views import APIView

from core.errors import IllegalTransition
from generation.errors import BudgetExceeded, GenerationPending, ProviderUnavailable
from generation.models import Generation


class Raise(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    error = None

    def get(self, request):
        raise self.error()


urlpatterns = [
    path("api/illegal/", Raise.as_view(error=IllegalTransition)),
    path("api/down/", Raise.as_view(error=ProviderUnavailable)),
    path("api/budget/", Raise.as_view(error=BudgetExceeded)),
]


@pytest.fixture
def client(settings):
    settings.ROOT_URLCONF = "tests.test_domain_errors"
    return APIClient()


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/illegal/", 409, "illegal_transition"),
        ("/api/down/", 503, "provider_unavailable"),
        ("/api/budget/", 429, "budget_exceeded"),
    ],
)
def test_domain_error_has_its_status_and_the_error_shape(client, db, url, status, code):
    response = client.get(url)
    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_budget_error_says_when_to_come_back(client, db):
    response = client.get("/api/budget/")
    assert 0 < int(response["Retry-After"]) <= 86401


def test_pending_generation_answers_202_with_where_to_look(company):
    from core.api import exception_handler

    generation = Generation.objects.create(
        kind="k", scope="s", context_hash="h", company=company, status="pending"
    )
    response = exception_handler(GenerationPending(generation), {})
    assert response.status_code == 202
    assert response.data["status"] == "pending"
    assert response.data["generation"] == {
        "id": generation.pk,
        "url": f"/api/generations/{generation.pk}/",
    }
    assert response["Location"] == f"/api/generations/{generation.pk}/"
