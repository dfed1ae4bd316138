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
        from recommendations import services  # noqa: F401
