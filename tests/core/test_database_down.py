"""When the database refuses connections, the API says so: 503, JSON, Retry-After."""

import httpx
import pytest

from tests.servers import asgi_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_without_database(django_db_setup, django_db_blocker):
    # Port 1 on loopback: nothing listens, every connection is refused at once.
    with (
        django_db_blocker.unblock(),
        asgi_server(
            ready_status=503,
            DATABASE_URL="postgres://postgres@127.0.0.1:1/evergreen",
            DB_POOL="false",
        ) as server,
    ):
        yield server


def test_health_answers_unavailable_without_saying_where_the_database_is(
    server_without_database,
):
    response = httpx.get(f"{server_without_database.url}/api/health/", timeout=10)

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}
    assert "127.0.0.1" not in response.text and "5432" not in response.text


def test_an_api_read_gets_503_with_retry_after_in_the_error_shape(server_without_database):
    response = httpx.get(
        f"{server_without_database.url}/api/companies/1/recommendations/",
        headers={"Authorization": "Token 0123456789abcdef"},
        timeout=10,
    )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "database_unavailable"


def test_a_session_read_gets_503_too(server_without_database):
    response = httpx.get(
        f"{server_without_database.url}/api/usage/",
        cookies={"sessionid": "a" * 32},
        timeout=10,
    )

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
