from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from companies.models import WRITE_ROLES, Company, Membership


def companies_for(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Company]:
    """The companies a user may see; staff are not special in the API."""
    if not user.is_authenticated:
        return Company.objects.none()
    return Company.objects.filter(memberships__user=user)


def role_of(*, user: AbstractBaseUser, company: Company) -> str | None:
    return (
        Membership.objects.filter(user=user, company=company).values_list("role", flat=True).first()
    )


def can_write(*, user: AbstractBaseUser, company: Company) -> bool:
    return role_of(user=user, company=company) in WRITE_ROLES


def token_memberships(*, key: str) -> QuerySet[Membership]:
    """The memberships of the active user whose API token is `key`, with the user and
    the company loaded: token authentication and the membership check in one query."""
    return Membership.objects.select_related("user", "company").filter(
        user__auth_token__key=key, user__is_active=True
    )
