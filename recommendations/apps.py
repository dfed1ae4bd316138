from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from generation.schemas import register_schema
        from recommendations.schemas import SCHEMAS

        for name, schema in SCHEMAS.items():
            register_schema(name, schema)
        # Registers the background refresh of the three kinds (expiry, regenerate).
        from generation.usage_kinds import register_kind
        from recommendations import services  # noqa: F401
        from recommendations.services.content import (
            KIND_HEALTH,
            KIND_INSIGHT,
            KIND_RECOMMENDATION,
        )

        register_kind(KIND_RECOMMENDATION, label="Recommendations", color="#0072b2")
        register_kind(KIND_INSIGHT, label="Peer insights", color="#009e73")
        register_kind(KIND_HEALTH, label="Health summaries", color="#cc79a7")
