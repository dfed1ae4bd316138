import pytest
from django.urls import include, path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from companies.models import Company
from core.api import Pagination


def assert_error_shape(body: dict, code: str | None = None) -> dict:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def test_health_checks_the_database(anon_api, db):
    response = anon_api.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "postgresql"}


def test_schema_documents_usage_and_health(anon_api, db):
    response = anon_api.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/usage/" in schema["paths"]
    assert "/api/health/" in schema["paths"]
    usage = schema["paths"]["/api/usage/"]["get"]
    assert {p["name"] for p in usage["parameters"]} >= {"since", "until", "company", "kind"}
    assert "200" in usage["responses"] and "400" in usage["responses"]


def test_docs_page_renders_html(anon_api, db):
    response = anon_api.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/api/schema/" in response.content
    # Swagger UI comes from the project's own static files, not from a CDN.
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in response.content
    assert b"cdn" not in response.content.lower()


def test_usage_refuses_anonymous_callers_with_the_error_shape(anon_api, db):
    response = anon_api.get("/api/usage/")

    assert response.status_code in (401, 403)
    assert_error_shape(response.json(), "not_authenticated")


def test_validation_error_has_the_error_shape_with_details(api):
    response = api.get("/api/usage/", {"since": "yesterday"})

    assert response.status_code == 400
    error = assert_error_shape(response.json(), "invalid")
    assert "since" in error["details"]
    assert error["message"].startswith("since:")


def test_unknown_api_url_is_a_json_404(api):
    response = api.get("/api/no-such-endpoint/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert_error_shape(response.json(), "not_found")


def test_unknown_page_url_is_still_an_html_404(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


# A tiny list endpoint, only for this module: no list endpoint of the product
# should be needed to prove that the shared pagination caps the page size.
class _CompanySerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = ["id", "name"]


class _CompanyList(generics.ListAPIView):
    queryset = Company.objects.order_by("pk")
    serializer_class = _CompanySerializer
    pagination_class = Pagination
    permission_classes = [AllowAny]


urlpatterns = [
    path("api/test-companies/", _CompanyList.as_view()),
    path("", include("config.urls")),
]


@pytest.mark.urls("tests.test_api_basics")
@pytest.mark.parametrize("size", ["1000", "201", "0", "-1", "abc", "1e3"])
def test_a_page_size_outside_1_to_200_is_a_400_as_on_every_list(anon_api, db, size):
    response = anon_api.get("/api/test-companies/", {"page_size": size})

    assert response.status_code == 400
    assert_error_shape(response.json(), "invalid")


@pytest.mark.urls("tests.test_api_basics")
def test_the_largest_page_is_200(anon_api, db):
    Company.objects.bulk_create(Company(name=f"C{i}", slug=f"c-{i}") for i in range(230))

    response = anon_api.get("/api/test-companies/", {"page_size": 200})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 230
    assert len(body["results"]) == 200
    assert body["next"] is not None


@pytest.mark.urls("tests.test_api_basics")
def test_page_size_below_the_maximum_is_honoured(anon_api, db):
    Company.objects.bulk_create(Company(name=f"C{i}", slug=f"c-{i}") for i in range(30))

    response = anon_api.get("/api/test-companies/", {"page_size": 7})

    assert len(response.json()["results"]) == 7
