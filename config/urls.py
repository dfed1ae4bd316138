from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core.pages import favicon

api_patterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # GET only: the docs page has nothing to say to OPTIONS or POST (405, JSON).
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", http_method_names=["get", "head"]),
        name="docs",
    ),
    path(
        "redoc/",
        SpectacularRedocView.as_view(
            url_name="schema", template_name="api/redoc.html", http_method_names=["get", "head"]
        ),
        name="redoc",
    ),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    # Sign in and out for company members: Django's views, the project's templates.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("generation.api_urls")),
    path("api/", include(api_patterns)),
    path("api/", include("recommendations.api_urls")),
    path("api/", include("deliverables.api_urls")),
    path("api/", include("reviews.api_urls")),
    path("", include("recommendations.urls")),
    path("", include("deliverables.urls")),
    path("", include("reviews.urls")),
    path("", include("generation.page_urls")),
]

# Under /api/ even a 404 or a crash answers with the JSON error shape.
handler400 = "core.api.bad_request"
handler403 = "core.api.permission_denied"
handler404 = "core.api.not_found"
handler500 = "core.api.server_error"
