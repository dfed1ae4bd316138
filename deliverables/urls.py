from django.urls import path

from deliverables import sse, views

app_name = "deliverables"

urlpatterns = [
    path("workspaces/", views.workspace_list, name="workspace-list"),
    path("workspaces/<int:pk>/", views.workspace_detail, name="workspace-detail"),
    path("workspaces/<int:pk>/cards", views.workspace_cards, name="workspace-cards"),
    path("workspaces/<int:pk>/events", sse.workspace_events, name="workspace-events"),
]
