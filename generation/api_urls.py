from django.urls import path

from generation import api, sse

urlpatterns = [
    path("health/", api.HealthView.as_view(), name="health"),
    path("generations/<int:pk>/", api.GenerationDetailView.as_view(), name="generation-detail"),
    path("generations/<int:pk>/events", sse.generation_events, name="generation-events"),
    path("usage/", api.UsageView.as_view(), name="usage-api"),
]
