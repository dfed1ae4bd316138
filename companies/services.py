from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from companies.models import Company, Membership, Role


def create_api_user(
    *, username: str, company_name: str, role: str = Role.EDITOR, password: str | None = None
) -> tuple[Membership, Token]:
    """A user with a membership in the company (created if missing) and an API token."""
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    User = get_user_model()
    with transaction.atomic():
        company, _ = Company.objects.get_or_create(
            slug=slugify(company_name)[:80], defaults={"name": company_name}
        )
        user, created = User.objects.get_or_create(username=username)
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
        elif created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        membership, _ = Membership.objects.update_or_create(
            user=user, company=company, defaults={"role": role}
        )
        token, _ = Token.objects.get_or_create(user=user)
    return membership, token


def company_reads_changed(*, company_id: int | None = None) -> int:
    """Raise the read version of one company (or of all, for a change every company
    reads: a prompt activation, the journey's definition). Call it inside the
    transaction that makes the change: the cached read lookups are keyed by the
    version, so they change exactly when the change commits."""
    companies = (
        Company.objects.all() if company_id is None else Company.objects.filter(pk=company_id)
    )
    return companies.update(read_version=F("read_version") + 1)
