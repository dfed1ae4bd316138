"""Reads that can reuse what the request has read already give what their queries give."""

import pytest

from companies.selectors import can_write
from recommendations import selectors, services
from tests.builders import make_member


@pytest.mark.parametrize("progress", [{}, {0: "completed", 1: "completed", 6: "in_progress"}])
def test_next_steps_from_the_journey_are_the_queried_ones(company, steps, progress):
    for index, status in progress.items():
        services.update_step_progress(company=company, step=steps[index], status=status)
    journey = selectors.journey_for(company=company)
    from_journey = selectors.next_steps(company=company, journey=journey)
    queried = selectors.next_steps(company=company)
    assert [s.pk for s in from_journey] == [s.pk for s in queried]
    assert [s.domain.pk for s in from_journey] == [s.domain.pk for s in queried]


@pytest.mark.parametrize(("role", "writes"), [("viewer", False), ("editor", True)])
def test_a_company_read_for_a_user_carries_their_role(company, role, writes):
    reader = make_member(company=company, role=role).user
    loaded = services.company_for_read(user=reader, company_id=company.pk)
    assert loaded.read_lookups.reader_role == role
    assert loaded.read_lookups.reader_can_write is writes
    assert can_write(user=reader, company=loaded) is writes
    # Another user's rights are looked up, not taken from the reader's.
    admin = make_member(company=company, role="admin").user
    assert can_write(user=admin, company=loaded) is True


def test_a_company_of_someone_else_is_not_read(company, other_company):
    outsider = make_member(company=other_company).user
    assert services.company_for_read(user=outsider, company_id=company.pk) is None
