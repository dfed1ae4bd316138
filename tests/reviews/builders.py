from rest_framework.authtoken.models import Token

from reviews import services
from reviews.models import ProposalVersion, Run

RUNS_URL = "/api/reviews/runs/"


def run_url(run) -> str:
    return f"{RUNS_URL}{run.pk if isinstance(run, Run) else run}/"


def start_run(*, member, idea: str = "A shared team calendar", extra_context=None) -> Run:
    run, _ = services.create_run(
        company=member.company, user=member.user, idea=idea, extra_context=extra_context
    )
    return run


def token_for(member) -> str:
    return Token.objects.get_or_create(user=member.user)[0].key


def with_proposal(run: Run, proposal: dict | None = None) -> Run:
    """The run as if its expand step had stored a proposal (a revision can be made)."""
    ProposalVersion.objects.create(
        run=run,
        expanded_proposal=proposal or {"title": "A proposal"},
        persona_template_version="",
    )
    return run
