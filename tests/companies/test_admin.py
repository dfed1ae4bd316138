"""The companies admin as staff use it: pages render, memberships are edited inline."""

import pytest
from django.urls import reverse

from companies.models import Company, Membership
from tests.builders import make_company, make_member

pytestmark = pytest.mark.django_db


def test_company_admin_pages_render(admin_client, member):
    company = member.company
    for url in (
        reverse("admin:companies_company_changelist"),
        reverse("admin:companies_company_add"),
        reverse("admin:companies_company_change", args=[company.pk]),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_membership_admin_pages_render(admin_client, member):
    for url in (
        reverse("admin:companies_membership_changelist"),
        reverse("admin:companies_membership_add"),
        reverse("admin:companies_membership_change", args=[member.pk]),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_company_change_page_lists_its_members_inline(admin_client, member):
    page = admin_client.get(reverse("admin:companies_company_change", args=[member.company.pk]))
    formset = page.context["inline_admin_formsets"][0].formset
    assert [form.instance for form in formset.forms if form.instance.pk] == [member]


def test_membership_changelist_filters_by_role(admin_client, company):
    viewer = make_member(company=company, role="viewer")
    make_member(company=company, role="admin")

    page = admin_client.get(reverse("admin:companies_membership_changelist"), {"role": "viewer"})

    assert list(page.context["cl"].result_list) == [viewer]


def test_company_search_finds_by_name(admin_client):
    acme = make_company(name="Acme Search")
    make_company(name="Globex")

    page = admin_client.get(reverse("admin:companies_company_changelist"), {"q": "acme sea"})

    assert list(page.context["cl"].result_list) == [acme]


def test_company_can_be_added_through_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:companies_company_add"),
        {
            "name": "Initech",
            "slug": "initech",
            "daily_cost_budget": "2.50",
            "daily_token_budget": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    company = Company.objects.get(slug="initech")
    assert str(company.daily_cost_budget) == "2.5000"
    assert not Membership.objects.filter(company=company).exists()


def test_membership_autocomplete_finds_companies(admin_client, company):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "term": company.name[:3],
            "app_label": "companies",
            "model_name": "membership",
            "field_name": "company",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == [company.name]
