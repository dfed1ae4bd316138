"""Tenant scoping for API views: one mixin, so no view can forget it.

A view declares `company_field` (the ORM path from its model to Company) and
gets a queryset limited to the caller's companies. Another company's object is
then simply not found: 404, never 403, so ids do not leak.
"""

from django.db.models import QuerySet
from django.http import Http404
from rest_framework import exceptions, permissions

from companies.models import WRITE_ROLES, Company, Membership
from companies.selectors import companies_for, membership_for


class CompanyScopedMixin:
    company_field: str = "company"

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        allowed = companies_for(user=self.request.user).values("pk")
        return queryset.filter(**{f"{self.company_field}__in": allowed})

    def get_queryset(self) -> QuerySet:
        return self.scope_queryset(super().get_queryset())


class CompanyRouteMixin:
    """For /companies/<company_id>/...: the caller's membership of the route's company
    (one query, once per request); not a member is a 404."""

    membership: Membership | None = None

    def get_membership(self) -> Membership:
        if self.membership is None:
            membership = membership_for(
                user=self.request.user, company_id=self.kwargs["company_id"]
            )
            if membership is None:
                raise Http404
            self.membership = membership
        return self.membership

    def get_company(self) -> Company:
        return self.get_membership().company

    def require_write_role(self) -> None:
        """403 unless the caller may change this company's content."""
        if self.get_membership().role not in WRITE_ROLES:
            raise exceptions.PermissionDenied(HasCompanyWriteRole.message)


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
