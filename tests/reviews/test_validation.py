"""Every write operation of reviews checks its whole request (query and body) before it
writes anything or asks a model: an invalid request is a 400 that leaves no trace."""

import pytest
from django_q.models import OrmQ

from generation.models import Generation, GenerationLog
from reviews.models import ProposalVersion, Run, RunEvent
from tests.reviews.builders import RUNS_URL, run_url, start_run, with_proposal

pytestmark = pytest.mark.django_db

BAD_WAITS = ["-1", "abc", "nan", "1e400", "inf", "-inf", "1" * 1001]

BAD_RUN_BODIES = [
    {},
    {"idea": ""},
    {"idea": "   "},
    {"idea": "x" * 10_001},
    {"idea": "ok", "extra_context": [1, 2]},
    {"idea": "ok", "extra_context": "text"},
    {"idea": "ok", "company": "abc"},
    {"idea": "ok", "company": 0},
    {"idea": "ok", "company": 2**70},
    [{"idea": "ok"}],
]

BAD_REVISION_BODIES = [
    {},
    {"edit_notes": ""},
    {"edit_notes": "x" * 10_001},
    {"edit_notes": "ok", "idea": "x" * 10_001},
    {"edit_notes": "ok", "extra_context": [1]},
    [{"edit_notes": "ok"}],
]


def _traces() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Run, RunEvent, ProposalVersion, Generation, GenerationLog, OrmQ)
    }


@pytest.fixture
def parent_run(member):
    return with_proposal(start_run(member=member, idea="Parent idea"))


def _requests(parent_run):
    revise = f"{run_url(parent_run)}revisions/"
    for wait in BAD_WAITS:
        yield "runs", f"{RUNS_URL}?wait={wait}", {"idea": "A good idea"}, {}
        yield "revisions", f"{revise}?wait={wait}", {"edit_notes": "Shorter"}, {}
    for body in BAD_RUN_BODIES:
        yield "runs", RUNS_URL, body, {}
    yield "runs", RUNS_URL, {"idea": "ok"}, {"HTTP_IDEMPOTENCY_KEY": "k" * 201}
    for body in BAD_REVISION_BODIES:
        yield "revisions", revise, body, {}


def test_every_invalid_query_and_body_is_a_400_that_writes_and_asks_nothing(
    api, parent_run, provider, queued, django_capture_on_commit_callbacks
):
    before = _traces()
    checked = 0
    for operation, url, body, headers in _requests(parent_run):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = api.post(url, body, format="json", **headers)

        assert response.status_code == 400, (operation, url, body, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["message"], (url, body)
        assert callbacks == [], (url, body)
        assert _traces() == before, (url, body)
        checked += 1

    assert checked == 2 * len(BAD_WAITS) + len(BAD_RUN_BODIES) + 1 + len(BAD_REVISION_BODIES)
    assert provider.calls == 0
    assert queued == []


def test_the_same_requests_made_valid_are_accepted(api, parent_run, queued):
    assert api.post(f"{RUNS_URL}?wait=0", {"idea": "A good idea"}, format="json").status_code == 202
    revise = f"{run_url(parent_run)}revisions/?wait=0"
    assert api.post(revise, {"edit_notes": "Shorter"}, format="json").status_code == 202
    assert len(queued) == 2
