from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class ReviewsConfig(AppConfig):
    name = "reviews"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from generation.schemas import register_schema
        from reviews.conf import check_settings
        from reviews.schemas import SCHEMAS

        for name, schema in SCHEMAS.items():
            register_schema(name, schema)
        from generation.usage_sections import UsageSection, register
        from reviews.selectors import metrics

        # Run durations and failure rates are for the people who operate the service.
        register(
            UsageSection(
                name="reviews",
                figures=metrics,
                template="reviews/usage_section.html",
                staff_only=True,
            )
        )
        from generation.usage_kinds import register_kind
        from reviews.services.personas import KIND_REVIEW
        from reviews.services.proposal import KIND_PROPOSAL

        register_kind(KIND_PROPOSAL, label="Review proposals", color="#56b4e9")
        register_kind(KIND_REVIEW, label="Persona reviews", color="#d55e00")
        # Every process (web, worker, manage.py) refuses to start with a setting out of
        # range, not only the ones that run the system checks.
        errors = check_settings()
        if errors:
            raise ImproperlyConfigured(" ".join(e.msg for e in errors))
