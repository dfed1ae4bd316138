"""Revisions: a new run whose proposal revises its parent's, with the edit notes."""

from django.db import transaction

from reviews.errors import NoProposal
from reviews.lifecycle import RunType
from reviews.models import ProposalVersion, Run
from reviews.services.runs import new_run


def create_revision(
    *, parent: Run, user, edit_notes: str, idea: str | None = None, extra_context=None
) -> Run:
    """A new run whose proposal revises the parent's, with the edit notes."""
    if not ProposalVersion.objects.filter(run=parent).exists():
        raise NoProposal(run_id=str(parent.pk))
    with transaction.atomic():
        return new_run(
            company=parent.company,
            user=user,
            idea=idea if idea is not None else parent.input_idea,
            extra_context=extra_context if extra_context is not None else parent.extra_context,
            run_type=RunType.REVISION,
            parent_run_id=parent.pk,
            parameters={"edit_notes": edit_notes},
        )
