"""The project's settings plus the bench's own URLs (a bare DRF list beside the API)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
