"""Reads shared by the API, the pages and the services, already scoped and flat (no N+1)."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet, Subquery

from companies.selectors import companies_for
from deliverables.models import Deliverable, Workspace
from generation.models import IN_PROGRESS, Generation, Prompt

# The display prompt's key: its active version is the one a current display was made by.
PROMPT_KEY = "deliverable-display"
# The generation kind displays are made as (usage figures are per kind).
KIND = "deliverable_display"

# The columns the listing needs: what the API shows, plus the two hashes, the prompt
# version and the queue claim the cache-first service decides with. The raw content
# is left out: only the few deliverables being transformed need it.
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
    "content_hash",
    "display_source_hash",
    "display_prompt_id",
    "transform_lease_expires_at",
    "updated_at",
)


@dataclass(frozen=True)
class DeliverablePage:
    """One keyset page of a workspace's deliverables in id order, whether another page
    follows, and the active display prompt version (None: no active version)."""

    deliverables: list[Deliverable]
    has_more: bool
    active_prompt_id: int | None


def display_scope(deliverable_id: int) -> str:
    """The generation scope a deliverable's display is made under."""
    return f"deliverable:{deliverable_id}"


def workspaces_for(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workspace]:
    return Workspace.objects.filter(company__in=companies_for(user=user).values("pk"))


def _active_prompt() -> QuerySet[Prompt]:
    return Prompt.objects.filter(key=PROMPT_KEY, is_active=True).values("pk")[:1]


def active_prompt_id() -> int | None:
    return _active_prompt().values_list("pk", flat=True).first()


def deliverable_page(
    *, workspace: Workspace, after: int | None = None, limit: int = 50
) -> DeliverablePage:
    """The deliverables of `workspace` with ids after `after`, at most `limit`: one
    query, which reads one row more to know whether another page follows and the
    active display prompt version as a subquery."""
    rows = list(
        Deliverable.objects.filter(workspace=workspace, pk__gt=after or 0)
        .only(*LIST_FIELDS)
        .annotate(active_prompt_id=Subquery(_active_prompt()))
        .order_by("pk")[: limit + 1]
    )
    return DeliverablePage(
        deliverables=rows[:limit],
        has_more=len(rows) > limit,
        active_prompt_id=rows[0].active_prompt_id if rows else None,
    )


def deliverables_in(*, workspace_id: int, ids: list[int]) -> DeliverablePage:
    """The deliverables of the workspace among `ids` (others are left out), as the page
    query reads them: one query, the active display prompt version as a subquery."""
    rows = list(
        Deliverable.objects.filter(workspace_id=workspace_id, pk__in=ids)
        .only(*LIST_FIELDS)
        .annotate(active_prompt_id=Subquery(_active_prompt()))
        .order_by("pk")
    )
    return DeliverablePage(
        deliverables=rows,
        has_more=False,
        active_prompt_id=rows[0].active_prompt_id if rows else active_prompt_id(),
    )


def displays_being_made(*, deliverable_ids: list[int], now: datetime) -> set[int]:
    """Which of these deliverables have a display generation in progress whose claim
    still runs (a request's worker thread or a task is making it)."""
    if not deliverable_ids:
        return set()
    scopes = {display_scope(pk): pk for pk in deliverable_ids}
    rows = Generation.objects.filter(
        kind=KIND, scope__in=scopes, status__in=IN_PROGRESS, lease_expires_at__gt=now
    ).values_list("scope", flat=True)
    return {scopes[scope] for scope in rows}


def deliverable_to_transform(*, deliverable_id: int) -> Deliverable | None:
    """What a queued transform is made from and decided with, and its company."""
    return (
        Deliverable.objects.select_related("workspace")
        .only(*LIST_FIELDS, "content", "workspace__company")
        .filter(pk=deliverable_id)
        .first()
    )
