from django.conf import settings
from django.db import models


class Company(models.Model):
    """The tenant: every piece of content belongs to one company."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    # Blank means "use the default from settings".
    daily_cost_budget = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True, help_text="USD per day"
    )
    daily_token_budget = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Raised in the transaction of every change to what this company's reads look up
    # (its context, the active prompt versions, the journey and its progress): the
    # cached lookups are keyed by it, so a committed change is never served stale.
    read_version = models.PositiveBigIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"


# Roles that may change content (start/complete, edit, regenerate).
WRITE_ROLES = frozenset({Role.EDITOR, Role.ADMIN})


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "company"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company} ({self.role})"
