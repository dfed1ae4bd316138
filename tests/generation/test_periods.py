"""Reports by day (usage, review metrics) read their period the same way: days outside
the supported range, reversed or too long periods are a 400, never a 500."""

import pytest

pytestmark = pytest.mark.django_db

REPORTS = ["/api/usage/", "/api/reviews/metrics/"]

OUT_OF_RANGE = [
    {"until": "9999-12-31"},
    {"until": "0001-01-01"},
    {"since": "0001-01-01"},
    {"since": "9999-12-31"},
    {"since": "0001-01-01", "until": "9999-12-31"},
    {"since": "0001-01-01", "until": "0001-01-01"},
    {"since": "9999-12-31", "until": "9999-12-31"},
    {"until": "1999-12-31"},
]

INVALID = [
    {"since": "2026-13-01"},
    {"until": "not-a-date"},
    {"since": "2026-03-02", "until": "2026-03-01"},
    {"since": "2025-01-01", "until": "2026-01-02"},  # 367 days
]


@pytest.mark.parametrize("url", REPORTS)
@pytest.mark.parametrize("query", OUT_OF_RANGE + INVALID)
def test_a_bad_period_is_a_400_with_the_error_shape(api, url, query):
    response = api.get(url, query)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["details"]) <= {"since", "until"}


@pytest.mark.parametrize("url", REPORTS)
def test_the_first_supported_day_is_accepted(api, url):
    response = api.get(url, {"since": "2000-01-01", "until": "2000-12-31"})

    assert response.status_code == 200
    assert (response.json()["since"], response.json()["until"]) == ("2000-01-01", "2000-12-31")
