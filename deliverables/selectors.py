"""Reads shared by the API and the pages, already scoped and flat (no N+1)."""

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, QuerySet, Subquery

from companies.models import Membership
from companies.selectors import companies_for, token_memberships
from core.prepared import Const, JoinedQuery, PreparedQuery, PreparedSQL, Tail
from deliverables.models import Deliverable, Workspace
from generation.models import Prompt

# The columns the listing needs: what the API shows, plus the two hashes and the
# queue marker the cache-first service decides with. Raw content is not listed.
LIST_FIELDS = (
    "id",
    "title",
    "status",
    "display_content",
    "display_format",
    "content_transformation_status",
    "display_quality_score",
    "ai_confidence",
    "auto_display_generated",
    "content_hash",
    "display_source_hash",
    "display_prompt_id",
)
# The display prompt's key; its active version is read in the page query.
DISPLAY_PROMPT_KEY = "deliverable-display"
# Timestamps are read as text and parsed by datetime.fromisoformat (C): Django's
# timestamptz loader for psycopg is Python and cost ~15 us a value, 1.5 ms for a
# page of 50, twice the query itself (bench/deliverables_list.py).
LIST_TIMES = ("transformation_timestamp", "updated_at", "transform_lease_expires_at")
_AS_TEXT = "__text"


def _workspace_membership(key: str, pk: int) -> QuerySet[Membership]:
    workspace = Workspace.objects.filter(pk=pk, company=OuterRef("company_id"))
    return (
        token_memberships(key=key)
        .annotate(
            **{
                f"workspace_{name}": Subquery(workspace.values(name)[:1])
                for name in ("id", "name", "goal", "created_at")
            }
        )
        .filter(workspace_id__isnull=False)[:1]
    )


# Token authentication, the membership check and the workspace of a workspace route
# in one query (companies.permissions.RouteMembershipMixin).
WORKSPACE_MEMBERSHIP = PreparedQuery(_workspace_membership, key=str, pk=int)


def workspace_of(*, membership: Membership) -> Workspace:
    """The workspace WORKSPACE_MEMBERSHIP loaded with `membership` (and the page
    WORKSPACE_MEMBERSHIP_WITH_PAGE read with it, for deliverable_page)."""
    workspace = Workspace(
        id=membership.workspace_id,
        company=membership.company,
        name=membership.workspace_name,
        goal=membership.workspace_goal,
        created_at=membership.workspace_created_at,
    )
    workspace.preloaded = getattr(membership, "preloaded", None)
    return workspace


def workspaces_for(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workspace]:
    return Workspace.objects.filter(company__in=companies_for(user=user).values("pk"))


def deliverable_page(
    *, workspace: Workspace, after: int | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], bool]:
    """One page of a workspace's deliverables in id order (keyset: ids after `after`),
    as dicts ready for services.serve_deliverables, and whether more follow.

    One query, with SQL written once per process: building and compiling the
    equivalent ORM queryset cost more than running it (1.3 ms against 0.7 ms for
    50 rows), and this is the hot read of the app.
    """
    names, rows = _PAGE(
        **page_values(after=after, limit=limit),
        workspace_id=workspace.pk,
        preloaded=getattr(workspace, "preloaded", None),
    )
    rows = [dict(zip(names, values, strict=True)) for values in rows]
    return decode_rows(rows[:limit]), len(rows) > limit


def page_values(*, after: int | None, limit: int) -> dict[str, int]:
    """The page query's values but the workspace: one row more than the page, to know
    whether another follows."""
    return {"after": after or 0, "stop": limit + 1}


def _page_sql(connection) -> tuple[str, list[str]]:
    meta = Deliverable._meta
    quote = connection.ops.quote_name
    columns = [f"{quote(meta.get_field(name).column)} AS {quote(name)}" for name in LIST_FIELDS]
    # Timestamps as text: see LIST_TIMES.
    columns += [
        f"CAST({quote(meta.get_field(name).column)} AS varchar) AS {quote(name + _AS_TEXT)}"
        for name in LIST_TIMES
    ]
    # The active display prompt version, in the same query: a display made by another
    # version is not current.
    prompt = Prompt._meta
    columns.append(
        f"(SELECT {quote(prompt.pk.column)} FROM {quote(prompt.db_table)} "
        f"WHERE {quote(prompt.get_field('key').column)} = %s AND "
        f"{quote(prompt.get_field('is_active').column)} LIMIT 1) AS {quote('active_prompt_id')}"
    )
    workspace_id = quote(meta.get_field("workspace").column)
    pk = quote(meta.pk.column)
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(meta.db_table)} "
        f"WHERE {workspace_id} = %s AND {pk} > %s ORDER BY {pk} LIMIT %s"
    )
    names = [*LIST_FIELDS, *(name + _AS_TEXT for name in LIST_TIMES), "active_prompt_id"]
    return sql, names


_PAGE = PreparedSQL(_page_sql, Const(DISPLAY_PROMPT_KEY), "workspace_id", "after", "stop")

# A token listing's authentication, membership, workspace and page: one statement.
WORKSPACE_MEMBERSHIP_WITH_PAGE = JoinedQuery(
    WORKSPACE_MEMBERSHIP, Tail(_PAGE, workspace_id="workspace_id")
)


def decode_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn the text timestamps of the page query into aware datetimes, in place."""
    for row in rows:
        for name in LIST_TIMES:
            row[name] = _datetime(row.pop(f"{name}{_AS_TEXT}"))
    return rows


def _datetime(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    # SQLite keeps naive UTC; PostgreSQL answers in the connection's UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
