from django.apps import AppConfig


class DeliverablesConfig(AppConfig):
    name = "deliverables"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from deliverables.schemas import SCHEMA_NAME, DeliverableDisplay
        from generation.schemas import register_schema

        register_schema(SCHEMA_NAME, DeliverableDisplay)
        from deliverables.selectors import KIND
        from generation.usage_kinds import register_kind

        register_kind(KIND, label="Deliverable displays", color="#e69f00")
