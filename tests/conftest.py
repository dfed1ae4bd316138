import pytest
from rest_framework.test import APIClient

from tests.builders import make_company, make_member


@pytest.fixture
def company(db):
    return make_company(name="Acme")


@pytest.fixture
def other_company(db):
    return make_company(name="Globex")


@pytest.fixture
def member(company):
    return make_member(company=company, role="editor")


@pytest.fixture
def api(member):
    client = APIClient()
    client.force_authenticate(member.user)
    return client


@pytest.fixture
def anon_api():
    return APIClient()
