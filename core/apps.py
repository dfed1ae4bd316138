from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares and no app owns: domain errors, the API error shape."""

    name = "core"
