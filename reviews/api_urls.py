from django.urls import path

from reviews import api, sse

urlpatterns = [
    path("reviews/runs/", api.RunListCreateView.as_view(), name="review-runs"),
    path("reviews/runs/<uuid:pk>/", api.RunDetailView.as_view(), name="review-run-detail"),
    path("reviews/runs/<uuid:pk>/revisions/", api.RevisionView.as_view(), name="review-run-revise"),
    path("reviews/runs/<uuid:pk>/events", sse.run_events, name="review-run-events"),
    path("reviews/metrics/", api.MetricsView.as_view(), name="review-metrics"),
]
