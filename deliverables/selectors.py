"""Reads shared by the API and the pages, already scoped and flat (no N+1)."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from companies.selectors import companies_for
from deliverables.models import Deliverable, Workspace

# The columns the listing needs: what the API shows, plus the two hashes and the
# queue marker the cache-first service decides with. Raw content is not listed.
LIST_FIELDS = (
    "id",
    "title",
    "status",
    "display_content",
    "display_format",
    "transformation_timestamp",
    "content_transformation_status",
    "display_quality_score",
    "ai_confidence",
    "auto_display_generated",
    "updated_at",
    "content_hash",
    "display_source_hash",
    "transform_queued_at",
)


def workspaces_for(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workspace]:
    return Workspace.objects.filter(company__in=companies_for(user=user).values("pk"))


def deliverable_rows(*, workspace: Workspace) -> QuerySet:
    """One query for the whole list, as dicts: no model instances, no related rows."""
    return Deliverable.objects.filter(workspace=workspace).order_by("id").values(*LIST_FIELDS)
