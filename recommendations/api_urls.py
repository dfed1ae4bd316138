from django.urls import path

from recommendations import api

urlpatterns = [
    path(
        "companies/<int:company_id>/recommendations/",
        api.RecommendationListView.as_view(),
        name="company-recommendations",
    ),
    path(
        "recommendations/<int:pk>/start/",
        api.StartRecommendationView.as_view(),
        name="recommendation-start",
    ),
    path(
        "recommendations/<int:pk>/complete/",
        api.CompleteRecommendationView.as_view(),
        name="recommendation-complete",
    ),
    path(
        "recommendations/<int:pk>/feedback/",
        api.FeedbackRecommendationView.as_view(),
        name="recommendation-feedback",
    ),
    path(
        "companies/<int:company_id>/insights/",
        api.InsightListView.as_view(),
        name="company-insights",
    ),
    path(
        "companies/<int:company_id>/health/",
        api.HealthSummaryView.as_view(),
        name="company-health",
    ),
    path("companies/<int:company_id>/journey/", api.JourneyView.as_view(), name="company-journey"),
    path(
        "companies/<int:company_id>/steps/<int:step_id>/progress/",
        api.StepProgressView.as_view(),
        name="company-step-progress",
    ),
    path(
        "companies/<int:company_id>/effectiveness/",
        api.EffectivenessListView.as_view(),
        name="company-effectiveness",
    ),
]
