from django.urls import path

from reviews import views

urlpatterns = [
    path("reviews/", views.run_list, name="review-runs-page"),
    path("reviews/runs/<uuid:pk>/", views.run_page, name="review-run-page"),
    path("reviews/runs/<uuid:pk>/retry/", views.retry_run, name="review-run-retry"),
]
