from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from companies.models import WRITE_ROLES, Company, Membership


def companies_for(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Company]:
    """The companies a user may see; staff are not special in the API."""
    if not user.is_authenticated:
        return Company.objects.none()
    return Company.objects.filter(memberships__user=user)


def writable_companies_for(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Company]:
    """The companies where the user may act (a write role): what a form offers."""
    if not user.is_authenticated:
        return Company.objects.none()
    # One filter() call: the role is the role of this user's own membership.
    return Company.objects.filter(memberships__user=user, memberships__role__in=WRITE_ROLES)


def membership_for(*, user: AbstractBaseUser | AnonymousUser, company_id: int) -> Membership | None:
    """The user's membership of the company, with the company: the scope check of every
    company route, one small query. None: not a member (the route answers 404)."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("company")
        .filter(user_id=user.pk, company_id=company_id)
        .first()
    )


def memberships_of(*, user: AbstractBaseUser | AnonymousUser) -> list[Membership]:
    """All the user's memberships with their companies, by company name: a page's
    navigation and its company's membership in one query."""
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.select_related("company")
        .filter(user_id=user.pk)
        .order_by("company__name", "company_id")
    )


def role_of(*, user: AbstractBaseUser, company: Company) -> str | None:
    return (
        Membership.objects.filter(user=user, company=company).values_list("role", flat=True).first()
    )


def can_write(*, user: AbstractBaseUser, company: Company) -> bool:
    return role_of(user=user, company=company) in WRITE_ROLES
