import pytest
from rest_framework.test import APIClient

from tests.builders import make_company, make_member
from tests.providers import CountingProvider

pytest_plugins = ["tests.fake_openai.plugin"]


@pytest.fixture(scope="session", autouse=True)
def _stop_listener_hub(django_db_setup):
    """The process's LISTEN connection must be closed before the test database is dropped."""
    yield
    from generation.events import hub

    hub.stop()


@pytest.fixture(autouse=True)
def _no_pending_counts():
    """Cache hits and showings wait in process memory for a flush
    (generation/writebehind.py, HIT_FLUSH_SECONDS is 0 under pytest: no thread); a test
    starts with none pending and writes its own with `flush_now()`."""
    from generation.writebehind import discard_pending

    discard_pending()
    yield
    discard_pending()


@pytest.fixture(autouse=True)
def _empty_caches():
    """Each test starts with empty caches: the process's own (content representations,
    read lookups) and the shared one (throttle counts, a database table unless Redis
    is configured, which outlives a test)."""
    from django.core.cache import caches

    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def company(db):
    return make_company(name="Acme")


@pytest.fixture
def other_company(db):
    return make_company(name="Globex")


@pytest.fixture
def member(company):
    return make_member(company=company, role="editor")


@pytest.fixture
def api(member):
    client = APIClient()
    client.force_authenticate(member.user)
    return client


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def provider(settings, monkeypatch) -> CountingProvider:
    """The offline provider, counted: `provider.calls` is the number of model calls made
    in this process. Set `provider.fail_with` or `provider.delay` to script trouble."""
    settings.EVERGREEN_PROVIDER = "offline"
    counting = CountingProvider()
    monkeypatch.setattr("generation.flight.get_provider", lambda name=None: counting)
    return counting
