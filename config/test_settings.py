"""Settings for the test suite: development mode, so nothing needs configuring.

Processes the tests start inherit EVERGREEN_MODE from the environment set here.
"""

import os

os.environ.setdefault("EVERGREEN_MODE", "development")

from config.settings import *  # noqa: F403
