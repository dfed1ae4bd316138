import pytest
from django.core.cache import caches

from tests.recommendations.builders import make_journey


@pytest.fixture(autouse=True)
def _fresh_throttle_counts(django_db_blocker):
    # Throttle counts live in the shared cache (a database table unless Redis is
    # configured), which outlives a test.
    with django_db_blocker.unblock():
        caches["shared"].clear()
    yield
    with django_db_blocker.unblock():
        caches["shared"].clear()


@pytest.fixture
def steps(db):
    """A journey of 2 domains x 5 steps."""
    return make_journey(domains=2, steps=5)


@pytest.fixture
def open_page(django_capture_on_commit_callbacks):
    """GET a page as a person opens it: what the request commits is committed (the
    test's transaction runs its on-commit hooks, so the background work it claims is
    queued, for tests.builders.run_queued_tasks)."""

    def get(client, url, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.get(url, **extra)

    return get
