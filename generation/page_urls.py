from django.urls import path

from generation import views

urlpatterns = [
    path("usage/", views.usage_page, name="usage"),
]
