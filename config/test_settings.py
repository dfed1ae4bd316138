"""Settings for the test suite: development mode, so nothing needs configuring.

Processes the tests start inherit EVERGREEN_MODE from the environment set here,
but load config.settings: their hit counts are flushed by the usual thread.
"""

import os

os.environ.setdefault("EVERGREEN_MODE", "development")

from config.settings import *  # noqa: F403

# In the test process itself counts are written only by flush_now(): deterministic.
HIT_FLUSH_SECONDS = 0
# Tests run without collectstatic: WhiteNoise looks files up per request instead of
# listing STATIC_ROOT at start (and warning that it is missing). bin/run collects them.
WHITENOISE_AUTOREFRESH = True
# Pages rendered in this process link plain names: the manifest storage would need a
# collectstatic first and fail on any file missing from it. Servers the tests start
# load config.settings (hashed names) after tests.servers.collect_static().
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
