"""Static files as the production server serves them (after collectstatic): pages link
content-hashed names, served compressed and cached for at least a year; the API docs
load their scripts from those local files, not from a CDN."""

import json
import re
import urllib.request

import pytest
from django.conf import settings

from tests.servers import asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

A_YEAR = 365 * 24 * 60 * 60


def get(url: str, **headers: str):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def max_age(headers) -> int:
    match = re.search(r"max-age=(\d+)", headers.get("Cache-Control", ""))
    assert match, headers.get("Cache-Control")
    return int(match.group(1))


@pytest.fixture
def server():
    with asgi_server() as running:
        yield running


def test_pages_link_hashed_names_served_gzipped_and_cached_for_a_year(server):
    manifest = json.loads((settings.STATIC_ROOT / "staticfiles.json").read_text())
    hashed = manifest["paths"]["evergreen/pages.js"]
    assert hashed != "evergreen/pages.js"

    _, _, page = get(f"{server.url}/accounts/login/")
    assert f'src="/static/{hashed}"'.encode() in page

    status, headers, body = get(f"{server.url}/static/{hashed}", **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert body[:2] == b"\x1f\x8b"  # the gzip copy collectstatic wrote
    assert max_age(headers) >= A_YEAR
    assert "immutable" in headers["Cache-Control"]

    # The plain name may change content under the same URL: a short cache only.
    _, headers, _ = get(f"{server.url}/static/evergreen/pages.js")
    assert max_age(headers) < A_YEAR
    assert "immutable" not in headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_load_their_scripts_from_hashed_local_static_files(server, path):
    status, _, page = get(f"{server.url}{path}")

    assert status == 200
    html = page.decode()
    scripts = re.findall(r'src="([^"]+\.js)"', html)
    assert scripts, html
    for src in scripts:
        assert src.startswith("/static/drf_spectacular_sidecar/"), src
        assert re.search(r"\.[0-9a-f]{12}\.js$", src), src
        status, headers, _ = get(f"{server.url}{src}", **{"Accept-Encoding": "gzip"})
        assert status == 200
        assert headers["Content-Encoding"] == "gzip"
    # Nothing else from another host: no CDN, no web fonts.
    assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == []
