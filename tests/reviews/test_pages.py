"""The review run page reads like a document in every state: the proposal as readable
text (never JSON), reviewer progress, the decision at the top, a failure in plain words
with a Retry that starts the same idea again."""

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from generation.public import MESSAGES
from reviews.lifecycle import EventType, RunStatus, RunType
from reviews.models import Decision, PersonaReview, ProposalVersion, Run, RunEvent
from tests.builders import make_member
from tests.reviews.builders import start_run

pytestmark = pytest.mark.django_db

PROPOSAL = {
    "title": "Team calendar",
    "problem_statement": "Teams miss each other's leave.",
    "proposed_solution": "One shared calendar per team.",
    "scope_and_non_goals": "No room booking.",
    "architecture": "A calendar service.",
    "security_and_data": "Company data only.",
    "operations": "One on-call rota.",
    "costs_and_value": "Cheap.",
    "risks": ["Low adoption", "Sync lag"],
    "assumptions": ["Teams use one calendar"],
}


class _Text(HTMLParser):
    """The visible text of the element with one id (scripts excluded)."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id, self.depth, self.parts, self.skip = element_id, 0, [], False

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag not in ("br", "img", "input", "meta")
        elif dict(attrs).get("id") == self.element_id:
            self.depth = 1
        self.skip = tag == "script"

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
        self.skip = False

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.parts.append(data)


def text_of(response, element_id: str) -> str:
    parser = _Text(element_id)
    parser.feed(response.content.decode())
    return re.sub(r"\s+", " ", " ".join(parser.parts)).strip()


def _event(run, event_type, persona_key: str = "", **data) -> RunEvent:
    return RunEvent.objects.create(run=run, type=event_type, persona_key=persona_key, data=data)


def _stream(run, *pieces: str) -> None:
    for piece in pieces:
        _event(run, EventType.PROPOSAL_TEXT, text=piece)


def _propose(run) -> ProposalVersion:
    _event(run, EventType.PROPOSAL_STORED, proposal=PROPOSAL)
    return ProposalVersion.objects.create(
        run=run, expanded_proposal=PROPOSAL, persona_template_version="v1"
    )


def _review(run, persona, confidence="0.8") -> PersonaReview:
    _event(run, EventType.REVIEW_STORED, persona_key=persona.key, persona=persona.key)
    return PersonaReview.objects.create(
        run=run,
        persona=persona,
        persona_name=persona.name,
        review={"summary": f"{persona.name} likes it.", "concerns": []},
        confidence_score=Decimal(confidence),
    )


def _finish(run, **fields) -> None:
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now(), **fields)


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client


def test_a_run_opened_mid_proposal_shows_the_text_so_far_readable(signed_in, member):
    run = start_run(member=member, idea="Team calendar")
    _stream(run, '{"title": "Team cal', 'endar", "problem_statement": "Teams miss each')
    _event(run, EventType.PROPOSAL_RESET)  # the stream started over
    _stream(run, '{"title": "Shared team calendar", "problem_', 'statement": "Teams miss each')

    response = signed_in.get(f"/reviews/runs/{run.pk}/")

    assert response.status_code == 200
    proposal = text_of(response, "proposal-text")
    assert proposal == "Title Shared team calendar Problem statement Teams miss each"
    for punctuation in ("{", "}", '":', '"', "[", "]"):
        assert punctuation not in proposal
    assert b"evergreen/run.js" in response.content  # followed live from here
    live = response.context["live"]
    assert live["last_event"] == RunEvent.objects.filter(run=run).latest("id").id
    assert live["text"].startswith('{"title": "Shared team calendar"')  # after the reset only


def test_the_proposal_reads_in_its_schemas_order_whatever_order_the_text_has(signed_in, member):
    run = start_run(member=member)
    _stream(run, '{"risks": ["Low adoption"], "title": "Team calendar", "problem_statement": "X"')

    proposal = text_of(signed_in.get(f"/reviews/runs/{run.pk}/"), "proposal-text")

    assert proposal == "Title Team calendar Problem statement X Risks Low adoption"


def test_reviews_in_progress_show_how_many_of_how_many(signed_in, member, personas):
    run = start_run(member=member)
    _propose(run)
    _review(run, personas[0])
    _review(run, personas[1])

    response = signed_in.get(f"/reviews/runs/{run.pk}/")

    assert text_of(response, "progress") == f"2 of {len(personas)} reviews"
    assert "Team calendar" in text_of(response, "proposal-text")
    assert "{" not in text_of(response, "proposal")
    reviews = text_of(response, "reviews")
    assert f"{personas[0].name} likes it." in reviews
    assert "confidence 80%" in reviews
    assert "Not decided yet." in text_of(response, "decision")


def test_a_decided_run_shows_the_decision_first_as_a_percentage(signed_in, member, personas):
    run = start_run(member=member)
    _propose(run)
    for persona in personas:
        _review(run, persona)
    Decision.objects.create(
        run=run,
        decision={"label": "revise", "blocking_personas": [personas[1].key]},
        overall_weighted_confidence=Decimal("0.7251"),
    )
    _finish(run, status=RunStatus.COMPLETED, decision_label="revise")

    response = signed_in.get(f"/reviews/runs/{run.pk}/")
    html = response.content.decode()

    decision = text_of(response, "decision")
    assert decision.startswith("Revise 73% weighted confidence")
    assert f"Blocking issues raised by {personas[1].name}." in decision
    assert 'class="card outcome revise"' in html
    # The outcome comes before the idea, the proposal and the reviews.
    assert html.index('id="outcome"') < html.index("<h2>Idea</h2>") < html.index('id="proposal"')
    assert text_of(response, "progress") == f"{len(personas)} of {len(personas)} reviews"
    assert b"evergreen/run.js" not in response.content  # nothing left to follow


def test_the_timeline_is_folded_and_says_what_happened_in_words(signed_in, member, personas):
    run = start_run(member=member)
    _stream(run, "{", '"title": "A"')
    _propose(run)
    _review(run, personas[0])

    response = signed_in.get(f"/reviews/runs/{run.pk}/")

    assert '<details class="card" id="timeline">' in response.content.decode()
    timeline = text_of(response, "timeline")
    assert "Run created" in timeline
    assert "Proposal being written (2 pieces)" in timeline
    assert f"Review written {personas[0].name}" in timeline
    assert "proposal_text" not in timeline


def test_a_failed_run_says_what_failed_in_plain_words_and_offers_retry(signed_in, member):
    run = start_run(member=member, idea="Referral bonus")
    error = {
        "step": "expand",
        "persona": None,
        "code": "provider_unavailable",
        "message": "Error code: 503 - The engine is currently overloaded.",
        "provider_error": "HTTP 503 upstream",
    }
    _finish(run, status=RunStatus.FAILED, error=error)

    response = signed_in.get(f"/reviews/runs/{run.pk}/")

    outcome = text_of(response, "outcome")
    assert f"The proposal could not be written. {MESSAGES['provider_unavailable']}" in outcome
    page = response.content.decode()
    for private in ("overloaded", "503", "expand", "provider_unavailable", "upstream"):
        assert private not in text_of(response, "outcome")
        assert private not in page.split("<main>")[1].split('id="timeline"')[0]
    assert 'class="card outcome failed"' in page
    assert "Retry" in outcome
    assert "of 5 reviews" not in outcome  # nothing to count: no review was asked for


def test_failed_reviews_are_named_by_persona_without_their_error_text(signed_in, member, personas):
    run = start_run(member=member)
    _propose(run)
    first, second = personas[1], personas[4]
    failures = [
        {"step": "review", "persona": p.key, "code": "invalid_output", "message": "bad JSON"}
        for p in (first, second)
    ]
    _finish(run, status=RunStatus.FAILED, error={**failures[0], "failures": failures})

    decision = text_of(signed_in.get(f"/reviews/runs/{run.pk}/"), "decision")

    assert decision.startswith(
        f"Failed 2 reviews could not be written ({first.name}, {second.name})."
        f" {MESSAGES['invalid_output']} What was written before is kept below."
    )
    assert "bad JSON" not in decision


def test_retry_starts_a_new_run_from_the_same_idea_once(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    run = start_run(member=member, idea="Referral bonus", extra_context={"team": 4})
    _finish(run, status=RunStatus.FAILED, error={"step": "run", "code": "internal"})
    page = client.get(f"/reviews/runs/{run.pk}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    url = f"/reviews/runs/{run.pk}/retry/"

    assert client.post(url).status_code == 403  # no CSRF token
    first = client.post(url, {"csrfmiddlewaretoken": token})
    again = client.post(url, {"csrfmiddlewaretoken": token})

    new = Run.objects.exclude(pk=run.pk).get()  # a second click opens the same new run
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == f"/reviews/runs/{new.pk}/"
    assert (new.input_idea, new.extra_context) == ("Referral bonus", {"team": 4})
    assert new.status == RunStatus.RUNNING
    assert new.run_type == RunType.INITIAL
    assert text_of(client.get(first["Location"]), "progress").startswith("0 of ")


def test_retry_of_a_failed_revision_revises_the_same_parent(signed_in, member):
    parent = start_run(member=member, idea="Referral bonus")
    _propose(parent)
    _finish(parent, status=RunStatus.COMPLETED)
    revision = Run.objects.create(
        company=member.company,
        created_by=member.user,
        input_idea="Referral bonus",
        run_type=RunType.REVISION,
        parent_run=parent,
        parameters={"edit_notes": "Cheaper"},
        status=RunStatus.FAILED,
        error={"step": "expand", "code": "budget_exceeded"},
    )

    response = signed_in.post(f"/reviews/runs/{revision.pk}/retry/")

    new = Run.objects.exclude(pk__in=[parent.pk, revision.pk]).get()
    assert response["Location"] == f"/reviews/runs/{new.pk}/"
    assert (new.run_type, new.parent_run_id) == (RunType.REVISION, parent.pk)
    assert new.parameters["edit_notes"] == "Cheaper"


def test_a_viewer_sees_the_failure_but_no_retry_and_cannot_post_one(client, member, company):
    run = start_run(member=member)
    _finish(run, status=RunStatus.FAILED, error={"step": "expand", "code": "budget_exceeded"})
    viewer = make_member(company=company, role="viewer")
    client.force_login(viewer.user)

    response = client.get(f"/reviews/runs/{run.pk}/")

    assert MESSAGES["budget_exceeded"] in text_of(response, "outcome")
    assert "Retry" not in text_of(response, "outcome")
    assert client.post(f"/reviews/runs/{run.pk}/retry/").status_code == 403
    assert Run.objects.count() == 1


def test_retry_of_a_run_that_did_not_fail_or_of_another_company_starts_nothing(
    signed_in, member, other_company
):
    running = start_run(member=member)
    stranger = start_run(member=make_member(company=other_company))

    response = signed_in.post(f"/reviews/runs/{running.pk}/retry/")

    assert response["Location"] == f"/reviews/runs/{running.pk}/"
    assert signed_in.post(f"/reviews/runs/{stranger.pk}/retry/").status_code == 404
    assert signed_in.get(f"/reviews/runs/{running.pk}/retry/").status_code == 405
    assert Run.objects.count() == 2
