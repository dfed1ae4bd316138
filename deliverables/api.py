from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from companies.permissions import CompanyScopedMixin, HasCompanyWriteRole
from deliverables import selectors, services
from deliverables.models import Deliverable, Workspace
from deliverables.serializers import (
    DeliverableListResponseSerializer,
    DeliverableListSerializer,
    DeliverablePageQuerySerializer,
    DeliverableSerializer,
    DeliverableUpdateSerializer,
    WorkspaceSerializer,
)
from generation.throttles import GenerationThrottleMixin


class WorkspaceListView(CompanyScopedMixin, generics.ListAPIView):
    """The workspaces of the caller's companies."""

    queryset = Workspace.objects.all()
    serializer_class = WorkspaceSerializer


class WorkspaceDeliverablesView(
    GenerationThrottleMixin, CompanyScopedMixin, generics.GenericAPIView
):
    """A workspace's deliverables with their display versions, cache-first.

    Stored displays are served without a model call; completed deliverables
    without a current display are transformed (a few per request, concurrently)
    or queued, and reported as pending. `meta.cache` says what this request did.
    """

    queryset = Workspace.objects.all()
    company_field = "company"
    serializer_class = DeliverableListSerializer
    pagination_class = None

    @extend_schema(
        parameters=[DeliverablePageQuerySerializer],
        responses={200: DeliverableListResponseSerializer},
    )
    def get(self, request, pk: int):
        query = DeliverablePageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        workspace = self.get_object()
        page = selectors.deliverable_page(workspace=workspace, **query.validated_data)
        listing = services.serve_deliverables(workspace=workspace, page=page)
        next_link = None
        if page.has_more:
            last = page.deliverables[-1].pk
            next_link = replace_query_param(request.build_absolute_uri(), "after", last)
        return Response(
            {
                "workspace": WorkspaceSerializer(workspace).data,
                "next": next_link,
                "results": DeliverableListSerializer(listing.deliverables, many=True).data,
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
