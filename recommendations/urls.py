from django.urls import path

from recommendations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("companies/open/", views.company_pick, name="company-pick"),
    path("companies/<int:company_id>/", views.dashboard, name="company-dashboard"),
    path(
        "companies/<int:company_id>/recommendations/<int:pk>/feedback/",
        views.recommendation_feedback,
        name="recommendation-feedback-page",
    ),
    path(
        "companies/<int:company_id>/recommendations/<int:pk>/<str:action>/",
        views.recommendation_action,
        name="recommendation-action-page",
    ),
    path(
        "companies/<int:company_id>/steps/<int:step_id>/progress/",
        views.step_progress,
        name="step-progress-page",
    ),
]
