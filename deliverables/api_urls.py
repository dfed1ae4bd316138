from django.urls import path

from deliverables import api

urlpatterns = [
    path("workspaces/", api.WorkspaceListView.as_view(), name="workspace-list"),
    path(
        "workspaces/<int:pk>/deliverables/",
        api.WorkspaceDeliverablesView.as_view(),
        name="workspace-deliverables",
    ),
    path("deliverables/<int:pk>/", api.DeliverableDetailView.as_view(), name="deliverable-detail"),
]
