import pytest
from django.core.cache import cache

from tests.recommendations.builders import make_journey


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle counts live in the cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def steps(db):
    """A journey of 2 domains x 5 steps."""
    return make_journey(domains=2, steps=5)
