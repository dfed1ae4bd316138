from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from companies.permissions import CompanyScopedMixin, HasCompanyWriteRole
from deliverables import selectors, services
from deliverables.models import Deliverable, Workspace
from deliverables.serializers import (
    DeliverableListResponseSerializer,
    DeliverableListSerializer,
    DeliverableSerializer,
    DeliverableUpdateSerializer,
    WorkspaceSerializer,
)


class DeliverablePagination(CursorPagination):
    """Cursor pages: one query per page, no COUNT."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class WorkspaceListView(CompanyScopedMixin, generics.ListAPIView):
    """The workspaces of the caller's companies."""

    queryset = Workspace.objects.all()
    serializer_class = WorkspaceSerializer


class WorkspaceDeliverablesView(CompanyScopedMixin, generics.GenericAPIView):
    """A workspace's deliverables with their display versions, cache-first.

    Stored displays are served without a model call; completed deliverables
    without a current display are transformed (a few per request, concurrently)
    or queued, and reported as pending. `meta.cache` says what this request did.
    """

    queryset = Workspace.objects.all()
    company_field = "company"
    serializer_class = DeliverableListSerializer
    pagination_class = DeliverablePagination
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "generation"

    @extend_schema(
        responses={200: DeliverableListResponseSerializer},
        parameters=[
            OpenApiParameter("cursor", str, description="Opaque cursor from next/previous."),
            OpenApiParameter("page_size", int, description="At most 200; default 50."),
        ],
    )
    def get(self, request, pk: int):
        workspace = self.get_object()
        rows = self.paginate_queryset(selectors.deliverable_rows(workspace=workspace))
        listing = services.serve_deliverables(workspace=workspace, rows=rows)
        return Response(
            {
                "workspace": WorkspaceSerializer(workspace).data,
                "next": self.paginator.get_next_link(),
                "previous": self.paginator.get_previous_link(),
                "results": DeliverableListSerializer(listing.rows, many=True).data,
                "meta": {"cache": listing.stats.as_dict()},
            }
        )


class DeliverableDetailView(CompanyScopedMixin, generics.RetrieveUpdateAPIView):
    """One deliverable with its raw content. PATCH (editor or admin) edits it; new
    content makes the display stale, and it is transformed once on the next read."""

    queryset = Deliverable.objects.all()
    company_field = "workspace__company"
    serializer_class = DeliverableSerializer
    permission_classes = [IsAuthenticated, HasCompanyWriteRole]
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(request=DeliverableUpdateSerializer, responses={200: DeliverableSerializer})
    def patch(self, request, pk: int):
        deliverable = self.get_object()
        data = DeliverableUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.update_deliverable(deliverable=deliverable, **data.validated_data)
        return Response(DeliverableSerializer(updated).data)
