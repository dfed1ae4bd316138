"""A listed deliverable's display is rendered once per display: the next listings read
it from the cache, a new display shows at once, and so do edits of the row's own
fields."""

import pytest
from rest_framework import serializers

from deliverables import selectors
from deliverables.models import Deliverable, DisplayFormat
from deliverables.serializers import DeliverableListSerializer
from generation.rendering import render_markdown
from tests.deliverables.builders import give_current_displays, list_url, make_deliverables

MARKDOWN = "## Plan\n\n- **first** step"


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """The markdown texts rendered for the API, one entry per rendering."""
    calls: list[str] = []

    def counted(text: str) -> str:
        calls.append(text)
        return render_markdown(text)

    monkeypatch.setattr("deliverables.serializers.render_markdown", counted)
    return calls


def _markdown_displays(workspace, text: str = MARKDOWN) -> None:
    give_current_displays(workspace=workspace, html=text)
    Deliverable.objects.filter(workspace=workspace).update(display_format=DisplayFormat.MARKDOWN)


def _results(api, workspace) -> list[dict]:
    response = api.get(list_url(workspace))
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.django_db
def test_a_second_listing_renders_no_markdown(api, workspace, provider, renders):
    make_deliverables(workspace=workspace, count=3)
    _markdown_displays(workspace)

    first = _results(api, workspace)
    assert len(renders) == 3
    second = _results(api, workspace)

    assert len(renders) == 3
    assert second == first
    assert all("<strong>first</strong>" in row["display_html"] for row in second)
    assert provider.calls == 0


@pytest.mark.django_db
def test_a_new_display_shows_its_new_html(api, workspace, provider, renders):
    make_deliverables(workspace=workspace, count=2)
    _markdown_displays(workspace)
    _results(api, workspace)

    # A new display is written with a new transformation time.
    _markdown_displays(workspace, "## Revised plan")
    shown = _results(api, workspace)

    assert [row["display_html"] for row in shown] == ["<h2>Revised plan</h2>"] * 2
    assert len(renders) == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("transform_threads_finish")
def test_new_content_shows_the_display_made_from_it(api, workspace, provider):
    [deliverable] = make_deliverables(workspace=workspace, count=1)
    _results(api, workspace)

    api.patch(
        f"/api/deliverables/{deliverable.pk}/",
        {"content": {"summary": "Revised findings after the pilot"}},
        format="json",
    )
    [shown] = _results(api, workspace)

    assert "Revised findings after the pilot" in shown["display_html"]
    assert provider.calls == 2


@pytest.mark.django_db
def test_a_title_or_status_edit_shows_at_once_with_the_cached_display(
    api, workspace, provider, settings, renders
):
    settings.AI_TRANSFORM_MAX_BATCH = 0  # the stale display is queued, not remade here
    first, second = make_deliverables(workspace=workspace, count=2)
    _markdown_displays(workspace)
    before = _results(api, workspace)

    api.patch(f"/api/deliverables/{first.pk}/", {"title": "Pilot results"}, format="json")
    api.patch(f"/api/deliverables/{second.pk}/", {"status": "in_progress"}, format="json")
    renders.clear()  # the edits' own answers show the display too
    after = _results(api, workspace)

    assert after[0]["title"] == "Pilot results"
    assert after[0]["content_transformation_status"] == "pending"
    assert after[0]["updated_at"] > before[0]["updated_at"]
    assert after[1]["status"] == "in_progress"
    assert [row["display_html"] for row in after] == [row["display_html"] for row in before]
    assert renders == []
    assert provider.calls == 0


@pytest.mark.django_db
def test_a_listed_deliverable_is_what_its_declared_serializer_shows(workspace):
    _, markdown, without = make_deliverables(workspace=workspace, count=3)
    give_current_displays(workspace=workspace, html="<p>Ready</p>")
    Deliverable.objects.filter(pk=markdown.pk).update(
        display_format=DisplayFormat.MARKDOWN, display_content=MARKDOWN
    )
    Deliverable.objects.filter(pk=without.pk).update(
        display_content="", transformation_timestamp=None, content_transformation_status="none"
    )
    deliverables = selectors.deliverable_page(workspace=workspace).deliverables

    rendered = DeliverableListSerializer(deliverables, many=True).data
    from_cache = DeliverableListSerializer(deliverables, many=True).data

    # What DRF's declared fields render, no cache involved.
    declared = [
        dict(serializers.ModelSerializer.to_representation(DeliverableListSerializer(), d))
        for d in deliverables
    ]
    assert rendered == from_cache == declared
    assert set(declared[0]) == {
        "id",
        "title",
        "status",
        "content_transformation_status",
        "updated_at",
        "display_content",
        "display_format",
        "display_html",
        "transformation_timestamp",
        "display_quality_score",
        "ai_confidence",
        "auto_display_generated",
    }
