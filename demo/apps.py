from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for every domain app; it sits above them so none imports another."""

    name = "demo"
