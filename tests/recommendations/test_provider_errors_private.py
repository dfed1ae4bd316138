"""The provider's own error text is for the log, not for company users."""

from django.urls import reverse


def test_a_503_says_in_words_that_the_model_is_unavailable_and_nothing_more(
    api, company, steps, fake_openai, caplog
):
    fake_openai.fail(401, times=None)

    response = api.get(reverse("company-health", args=[company.pk]))

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "provider_unavailable"
    assert (
        error["message"]
        == "The model is unavailable right now and there is no earlier content to show."
    )
    assert "API key" not in response.content.decode()
    assert "Error code: 401" not in response.content.decode()
    assert "HTTP 401" not in response.content.decode()
    # The detail is in the log, for whoever runs the service.
    assert "Incorrect API key" in caplog.text
