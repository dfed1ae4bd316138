import importlib
import threading

import pytest
from django.apps import apps
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from deliverables.services import PROMPT_KEY
from generation.models import Prompt
from tests.deliverables.builders import make_workspace
from tests.processes import wait_until


@pytest.fixture(autouse=True)
def display_prompt(db):
    """The prompt comes from a data migration; a transactional test's flush removes it."""
    if not Prompt.objects.filter(key=PROMPT_KEY).exists():
        migration = importlib.import_module("deliverables.migrations.0002_display_prompt")
        migration.create_prompt(apps, None)
    return Prompt.objects.get(key=PROMPT_KEY, is_active=True)


@pytest.fixture(autouse=True)
def room_for_the_whole_batch(settings):
    """A process with a thread slot for every transform of a request's batch: the
    listing's own rules are tested here; the slots have their own test
    (test_listing.py) and the pool its own (test_pool_starvation.py)."""
    settings.AI_TRANSFORM_THREADS = max(settings.AI_TRANSFORM_MAX_BATCH, 5)


@pytest.fixture
def token_api(member) -> APIClient:
    """Authenticated as a real client is: the token is looked up by the request."""
    token, _ = Token.objects.get_or_create(user=member.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def workspace(company):
    return make_workspace(company=company)


@pytest.fixture
def transform_threads_finish():
    """Transforms past the timeout keep running in their threads; let them end before
    the test database is flushed."""
    yield
    wait_until(
        lambda: not any(t.name.startswith("deliverable") for t in threading.enumerate()),
        timeout=30,
        message="transform threads still running",
    )
