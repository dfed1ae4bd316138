"""Tenant scoping for API views: one mixin, so no view can forget it.

A view declares `company_field` (the ORM path from its model to Company) and
gets a queryset limited to the caller's companies. Another company's object is
then simply not found: 404, never 403, so ids do not leak.
"""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import permissions
from rest_framework.authentication import get_authorization_header
from rest_framework.authtoken.models import Token

from companies.models import WRITE_ROLES, Company, Membership
from companies.selectors import companies_for
from core.authentication import TokenAuthentication
from core.prepared import JoinedQuery, PreparedQuery


class CompanyScopedMixin:
    company_field: str = "company"

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        allowed = companies_for(user=self.request.user).values("pk")
        return queryset.filter(**{f"{self.company_field}__in": allowed})

    def get_queryset(self) -> QuerySet:
        return self.scope_queryset(super().get_queryset())


class CompanyRouteMixin:
    """For /companies/<company_id>/...: the company must be one of the caller's (else 404)."""

    def get_company(self) -> Company:
        if not hasattr(self, "_company"):
            self._company = get_object_or_404(
                companies_for(user=self.request.user), pk=self.kwargs["company_id"]
            )
        return self._company


def token_key(request) -> str | None:
    """The key of a well-formed `Authorization: Token <key>` header, else None (no
    header, another scheme, or one TokenAuthentication refuses with its own 401)."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != TokenAuthentication.keyword.lower().encode():
        return None
    try:
        key = parts[1].decode()
    except UnicodeError:
        return None
    return key if "\x00" not in key else None


class RouteMembershipMixin:
    """Token authentication and the membership of the route's company in one query.

    A hot read authenticates, then loads the route's company with its membership
    check: two lookups of the same few rows. A view with this mixin declares
    `membership_query`, a PreparedQuery over companies.selectors.token_memberships
    (select_related user and company) whose parameters are `key` and the route's
    URL kwargs. A token request finding its membership row is authenticated by it
    (same user, same rules: unknown key or inactive user finds nothing) and the view
    reads `self.route_membership`. Finding nothing, the request takes the usual path
    (DRF's authenticators, then the view's own lookup): the 401s and 404s stay theirs.

    A view may also read its content in that statement: `joined_read()` returns a
    JoinedQuery over `membership_query` and the values of its tails taken from the
    request (None: the request is read the usual way), and the tails' rows wait in
    `route_membership.preloaded` for the read.
    """

    membership_query: PreparedQuery | None = None
    route_membership: Membership | None = None

    def joined_read(self, request) -> tuple[JoinedQuery, dict[str, Any]] | None:
        """The content query to run with the membership's, and its values (or None)."""
        return None

    def perform_authentication(self, request) -> None:
        key = token_key(request) if self.membership_query is not None else None
        if key is not None:
            route = {n: self.kwargs[n] for n in self.membership_query.parameters if n != "key"}
            joined = self.joined_read(request)
            preloaded = None
            if joined is None:
                found = self.membership_query(key=key, **route)
            else:
                query, values = joined
                found, preloaded = query(key=key, **route, **values)
            if found:
                membership = self.route_membership = found[0]
                membership.preloaded = preloaded
                request.user = membership.user
                request.auth = Token(key=key, user=membership.user)
                # What DRF's own authentication leaves behind: without it, reading
                # request.successful_authenticator would authenticate again.
                request._authenticator = TokenAuthentication()
                return
        super().perform_authentication(request)


class HasCompanyWriteRole(permissions.BasePermission):
    """Safe methods for every member; writes need editor or admin on the object's company."""

    message = "Your role in this company does not allow changes."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        # Checked here too: a view listing only this class must not crash on
        # an anonymous writer (filtering on AnonymousUser raises TypeError).
        if not request.user or not request.user.is_authenticated:
            return False
        company_id = _company_id_of(obj, getattr(view, "company_field", "company"))
        return Membership.objects.filter(
            user=request.user, company_id=company_id, role__in=WRITE_ROLES
        ).exists()


def _company_id_of(obj, path: str):
    parts = path.split("__")
    for part in parts[:-1]:
        obj = getattr(obj, part)
    return getattr(obj, f"{parts[-1]}_id")
