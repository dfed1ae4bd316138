"""The journey a read shows, and the membership a company route is scoped by."""

import pytest

from companies.selectors import membership_for, memberships_of
from recommendations import selectors, services
from tests.builders import make_member


@pytest.mark.parametrize("progress", [{}, {0: "completed", 1: "completed", 6: "in_progress"}])
def test_next_steps_put_steps_in_progress_first_and_leave_completed_ones_out(
    company, steps, progress
):
    for index, status in progress.items():
        services.update_step_progress(company=company, step=steps[index], status=status)
    journey = selectors.journey_for(company=company)
    upcoming = [s.step.pk for s in selectors.next_steps(journey=journey)]
    in_progress = [steps[i].pk for i, status in progress.items() if status == "in_progress"]
    completed = {steps[i].pk for i, status in progress.items() if status == "completed"}
    assert upcoming == in_progress + [
        s.pk for s in steps if s.pk not in completed and s.pk not in in_progress
    ]


def test_the_journey_shows_each_domain_with_its_steps_and_the_companys_progress(company, steps):
    services.update_step_progress(company=company, step=steps[0], status="completed")
    journey = selectors.journey_for(company=company)
    assert [len(d.steps) for d in journey] == [5, 5]
    assert journey[0].completed_count == 1 and journey[0].maturity == 1
    assert journey[0].steps[0].status == "completed"
    assert journey[0].steps[0].step.domain == journey[0].domain


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_a_company_route_is_scoped_by_the_readers_membership(company, role):
    reader = make_member(company=company, role=role).user
    membership = membership_for(user=reader, company_id=company.pk)
    assert membership.role == role and membership.company == company


def test_a_company_of_someone_else_has_no_membership(company, other_company):
    outsider = make_member(company=other_company).user
    assert membership_for(user=outsider, company_id=company.pk) is None
    assert [m.company for m in memberships_of(user=outsider)] == [other_company]
