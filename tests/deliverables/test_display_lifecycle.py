"""A display is current for one title, one content and one prompt version: a title
edit or a new display prompt version makes it stale; a rollback serves the earlier
display again with 0 calls (through the API, against the fake OpenAI server)."""

import pytest

from generation.prompts import new_version_from, rollback_prompt
from tests.deliverables.builders import list_url, make_deliverables

# The transforms run in worker threads with their own connections: committed rows.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("transform_threads_finish"),
]


def _rows(response) -> dict[int, dict]:
    return {row["id"]: row for row in response.json()["results"]}


def test_a_title_edit_makes_the_display_stale_and_costs_one_call(api, workspace, fake_openai):
    deliverables = make_deliverables(workspace=workspace, count=2)
    api.get(list_url(workspace))
    assert fake_openai.calls == 2

    edited = api.patch(
        f"/api/deliverables/{deliverables[0].pk}/", {"title": "Pilot results"}, format="json"
    )

    assert edited.status_code == 200
    assert edited.json()["content_transformation_status"] == "stale"
    after = api.get(list_url(workspace))
    assert fake_openai.calls == 3
    assert after.json()["meta"]["cache"]["transformed"] == 1
    assert _rows(after)[deliverables[0].pk]["content_transformation_status"] == "success"
    api.get(list_url(workspace))
    assert fake_openai.calls == 3


def test_a_new_display_prompt_makes_displays_stale_and_a_rollback_serves_them_with_0_calls(
    api, workspace, fake_openai, display_prompt
):
    make_deliverables(workspace=workspace, count=2)
    v1 = _rows(api.get(list_url(workspace)))
    assert fake_openai.calls == 2

    new_version_from(prompt=display_prompt, activate=True, notes="shorter displays")
    v2 = api.get(list_url(workspace))
    assert fake_openai.calls == 4
    assert v2.json()["meta"]["cache"]["transformed"] == 2
    api.get(list_url(workspace))
    assert fake_openai.calls == 4

    rollback_prompt(key=display_prompt.key)
    back = api.get(list_url(workspace))

    assert fake_openai.calls == 4
    assert {pk: r["display_content"] for pk, r in _rows(back).items()} == {
        pk: r["display_content"] for pk, r in v1.items()
    }
    again = api.get(list_url(workspace))
    assert again.json()["meta"]["cache"]["cached"] == 2 and fake_openai.calls == 4


@pytest.mark.django_db
def test_the_migration_keeps_current_displays_current_under_the_new_hash(workspace, display_prompt):
    import importlib

    from django.apps import apps

    from deliverables.models import Deliverable, source_hash
    from generation.hashing import sha256_of

    current, stale = make_deliverables(workspace=workspace, count=2)
    # As the rows were before: the hash of the content only, one display current.
    for row, source, status in ((current, None, "success"), (stale, "0" * 64, "stale")):
        old_hash = sha256_of(row.content)
        Deliverable.objects.filter(pk=row.pk).update(
            content_hash=old_hash,
            display_content="<p>Ready</p>",
            display_source_hash=source or old_hash,
            content_transformation_status=status,
        )

    migration = importlib.import_module(
        "deliverables.migrations.0003_display_source_title_and_prompt"
    )
    migration.rehash(apps, None)

    current.refresh_from_db()
    stale.refresh_from_db()
    assert current.content_hash == source_hash(title=current.title, content=current.content)
    assert current.display_is_current and current.display_prompt_id == display_prompt.pk
    assert stale.content_hash == source_hash(title=stale.title, content=stale.content)
    assert not stale.display_is_current
