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
