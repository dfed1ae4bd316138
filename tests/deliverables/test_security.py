"""Display content is model output: untrusted. Cleaned before storing and when shown."""

import pytest
from django.test import Client

from deliverables.models import Deliverable
from deliverables.schemas import DeliverableDisplay
from tests.deliverables.builders import give_current_displays, list_url, make_deliverables

PAYLOAD = (
    "<h2>Plan</h2><script>alert('stolen')</script>"
    '<img src="x" onerror="alert(1)"><p onclick="alert(2)">Body text</p>'
    '<a href="javascript:alert(3)">link</a>'
)
DANGEROUS = ("<script", "onerror", "onclick", "javascript:", "alert(")

pytestmark = pytest.mark.usefixtures("transform_threads_finish")


def _page(user, workspace) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/workspaces/{workspace.pk}/")
    assert response.status_code == 200
    # The page's content: the layout's own script (a static file) is in <head>.
    html = response.content.decode()
    return html[html.index("<main>") :]


def _model_answers(monkeypatch, *, display_content: str, display_format: str) -> None:
    def offline_example(cls, inputs):
        return {
            "display_content": display_content,
            "display_format": display_format,
            "display_quality_score": 0.9,
            "ai_confidence": 0.8,
        }

    monkeypatch.setattr(DeliverableDisplay, "offline_example", classmethod(offline_example))


@pytest.mark.django_db(transaction=True)
def test_script_and_onerror_in_a_display_are_neither_stored_nor_rendered(
    api, member, workspace, provider, monkeypatch
):
    _model_answers(monkeypatch, display_content=PAYLOAD, display_format="html")
    [deliverable] = make_deliverables(workspace=workspace, count=1)

    response = api.get(list_url(workspace))

    assert provider.calls == 1
    stored = Deliverable.objects.get(pk=deliverable.pk).display_content
    assert "<h2>Plan</h2>" in stored
    assert "Body text" in stored
    for marker in DANGEROUS:
        assert marker not in stored
        assert marker not in response.json()["results"][0]["display_content"]
    page = _page(member.user, workspace)
    assert "Body text" in page
    for marker in DANGEROUS:
        assert marker not in page


@pytest.mark.django_db(transaction=True)
def test_a_markdown_display_is_rendered_and_cleaned_on_the_page(
    member, workspace, provider, monkeypatch
):
    markdown = (
        "## Plan\n\n- **first** step\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>"
    )
    _model_answers(monkeypatch, display_content=markdown, display_format="markdown")
    make_deliverables(workspace=workspace, count=1)

    page = _page(member.user, workspace)

    assert "<h2>Plan</h2>" in page
    assert "<strong>first</strong>" in page
    for marker in DANGEROUS:
        assert marker not in page


@pytest.mark.django_db
def test_a_dirty_stored_display_is_cleaned_again_when_rendered(member, workspace, provider):
    make_deliverables(workspace=workspace, count=1)
    # A row written by some other path than the service (an import, an old release).
    give_current_displays(workspace=workspace, html=PAYLOAD)

    page = _page(member.user, workspace)

    assert provider.calls == 0
    assert "Body text" in page
    for marker in DANGEROUS:
        assert marker not in page


@pytest.mark.django_db(transaction=True)
def test_api_clients_get_a_markdown_display_as_cleaned_html(
    api, member, workspace, provider, monkeypatch
):
    markdown = "## Plan\n\n- **first**\n\n<script>alert('x')</script>\n\n[go](javascript:alert(3))"
    _model_answers(monkeypatch, display_content=markdown, display_format="markdown")
    deliverable = make_deliverables(workspace=workspace, count=1)[0]

    listed = api.get(list_url(workspace)).json()["results"][0]
    detail = api.get(f"/api/deliverables/{deliverable.pk}/").json()

    for shown in (listed, detail):
        assert shown["display_format"] == "markdown"
        assert "<h2>Plan</h2>" in shown["display_html"]
        assert "<strong>first</strong>" in shown["display_html"]
        for marker in DANGEROUS:
            assert marker not in shown["display_html"]
