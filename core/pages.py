"""Site-wide pages outside any app: the favicon at the address browsers ask first."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico: the static icon, resolved per request so that a hashed (manifest)
    static name is found whatever storage serves the static files."""
    return redirect(static("evergreen/favicon.svg"))
