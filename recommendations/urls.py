from django.urls import path

from recommendations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("companies/<int:company_id>/", views.dashboard, name="company-dashboard"),
]
