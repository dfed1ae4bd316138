import importlib

import pytest
from django.apps import apps

from reviews.models import Persona


@pytest.fixture(autouse=True)
def personas(db):
    """Prompts and personas come from a data migration; a transactional test's flush
    removes them."""
    if not Persona.objects.exists():
        migration = importlib.import_module("reviews.migrations.0002_personas")
        migration.create(apps, None)
    return list(Persona.objects.order_by("order"))


@pytest.fixture(autouse=True)
def _reviews_settings(settings):
    settings.REVIEWS_MAX_CONCURRENCY = 5
    settings.REVIEWS_LEASE_SECONDS = 30


@pytest.fixture
def queued(monkeypatch) -> list:
    """Runs handed to a worker (which would call the model), recorded instead of queued:
    new runs and runs queued again after an interruption."""
    handed = []

    def record(run_id, reason=""):
        handed.append(str(run_id))

    monkeypatch.setattr("reviews.services.runs.enqueue", record)
    monkeypatch.setattr("reviews.services.execution.enqueue", record)
    return handed
