import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.test import APIRequestFactory

from companies.models import Membership
from companies.permissions import HasCompanyWriteRole
from generation.models import Generation, GenerationStatus
from tests.builders import make_member


def make_generation(company, **fields) -> Generation:
    return Generation.objects.create(
        kind="insight",
        scope=f"company:{company.pk}",
        context_hash=f"{company.pk:064d}",
        company=company,
        status=GenerationStatus.COMPLETED,
        text="Some text.",
        **fields,
    )


def test_member_reads_own_companys_generation(api, company):
    generation = make_generation(company)

    response = api.get(f"/api/generations/{generation.pk}/")

    assert response.status_code == 200
    assert response.json()["id"] == generation.pk
    assert response.json()["content"] == "Some text."


def test_another_companys_generation_is_a_404_not_a_403(api, other_company):
    generation = make_generation(other_company)

    response = api.get(f"/api/generations/{generation.pk}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_member_of_both_companies_reads_both(api, member, other_company):
    Membership.objects.create(user=member.user, company=other_company, role="viewer")
    generation = make_generation(other_company)

    assert api.get(f"/api/generations/{generation.pk}/").status_code == 200


def test_anonymous_caller_cannot_read_a_generation(anon_api, company):
    generation = make_generation(company)

    response = anon_api.get(f"/api/generations/{generation.pk}/")

    assert response.status_code in (401, 403)
    assert "error" in response.json()


class _View:
    company_field = "company"


def _allowed(user, method: str, obj) -> bool:
    request = getattr(APIRequestFactory(), method.lower())("/")
    request.user = user
    return HasCompanyWriteRole().has_object_permission(request, _View(), obj)


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
def test_viewer_cannot_write(company, method):
    viewer = make_member(company=company, role="viewer")
    generation = make_generation(company)

    assert not _allowed(viewer.user, method, generation)


@pytest.mark.parametrize("role", ["editor", "admin"])
def test_editor_and_admin_can_write(company, role):
    writer = make_member(company=company, role=role)
    generation = make_generation(company)

    assert _allowed(writer.user, "POST", generation)


def test_viewer_can_read(company):
    viewer = make_member(company=company, role="viewer")

    assert _allowed(viewer.user, "GET", make_generation(company))


def test_editor_of_another_company_cannot_write(company, other_company):
    outsider = make_member(company=other_company, role="editor")

    assert not _allowed(outsider.user, "POST", make_generation(company))


def test_anonymous_cannot_write(company):
    assert not _allowed(AnonymousUser(), "POST", make_generation(company))
