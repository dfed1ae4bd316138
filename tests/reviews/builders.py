from rest_framework.authtoken.models import Token

from reviews import services
from reviews.models import Run

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
