"""The review-run figures on the reviews page: members see how many runs there were;
failure rates and durations are operations figures, shown to staff only."""

from reviews.lifecycle import RunStatus
from reviews.models import Run
from tests.reviews.builders import start_run

OPERATIONS = ("Failure rate", "failure rate", "p50", "p95", "Calls / run")


def test_members_see_run_counts_without_operations_figures(client, member):
    run = start_run(member=member)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    client.force_login(member.user)

    html = client.get("/reviews/").content.decode()

    assert "1 run · 0 completed · 1 failed" in html
    for hidden in OPERATIONS:
        assert hidden not in html


def test_staff_see_failure_rates_and_durations(client, member):
    run = start_run(member=member)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    member.user.is_staff = True
    member.user.save()
    client.force_login(member.user)

    html = client.get("/reviews/").content.decode()

    assert "failure rate 100%" in html
    for shown in OPERATIONS:
        assert shown in html
