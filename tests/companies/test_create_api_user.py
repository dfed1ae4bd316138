import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from companies.models import Company, Membership


def create_api_user(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_user", *args, stdout=out)
    return out.getvalue()


def token_in(output: str) -> str:
    match = re.search(r"^token: (\w+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_printed_token_authenticates_against_the_api(db):
    key = token_in(create_api_user("ada", "Analytical Engines", "--role", "viewer"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.get("/api/usage/")

    assert response.status_code == 200
    membership = Membership.objects.get(user__username="ada")
    assert membership.role == "viewer"
    assert membership.company.name == "Analytical Engines"


def test_a_wrong_token_is_refused(db):
    create_api_user("ada", "Analytical Engines")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-the-key")

    response = client.get("/api/usage/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_unknown_role_is_a_command_error_and_creates_nothing(db):
    with pytest.raises(CommandError):
        create_api_user("ada", "Analytical Engines", "--role", "owner")
    with pytest.raises(CommandError, match="role must be one of"):
        call_command("create_api_user", "ada", "Analytical Engines", role="owner")

    assert not get_user_model().objects.filter(username="ada").exists()
    assert not Company.objects.exists()


def test_running_twice_is_idempotent(db):
    first = token_in(create_api_user("ada", "Analytical Engines", "--role", "viewer"))
    second = token_in(create_api_user("ada", "Analytical Engines", "--role", "admin"))

    assert first == second
    assert get_user_model().objects.filter(username="ada").count() == 1
    assert Company.objects.count() == 1
    assert Token.objects.count() == 1
    membership = Membership.objects.get()
    assert membership.role == "admin"  # the second run updates the role, adds no row
