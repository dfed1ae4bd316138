"""config.urls plus a bare DRF ListAPIView of a workspace's deliverables: the same
rows and fields, the same authentication and company scoping as the API's listing,
written the plain DRF way (ModelSerializer over an ORM queryset), for
bench/http_list.py; and the least a request can cost (bench/reads.py): a Django
view answering `{}` with no query, and the same with one `SELECT 1`."""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework import generics, serializers

from companies.selectors import companies_for
from config.urls import urlpatterns as project_urls
from deliverables.models import Deliverable
from deliverables.serializers import display_html


class BareDeliverableSerializer(serializers.ModelSerializer):
    display_html = serializers.SerializerMethodField()

    class Meta:
        model = Deliverable
        fields = [
            "id",
            "title",
            "status",
            "display_content",
            "display_format",
            "display_html",
            "transformation_timestamp",
            "content_transformation_status",
            "display_quality_score",
            "ai_confidence",
            "auto_display_generated",
            "updated_at",
        ]

    def get_display_html(self, obj) -> str:
        return display_html(obj.display_content, obj.display_format)


class BareDeliverableList(generics.ListAPIView):
    serializer_class = BareDeliverableSerializer
    pagination_class = None

    def get_queryset(self):
        size = int(self.request.query_params.get("page_size", 50))
        return Deliverable.objects.filter(
            workspace_id=self.kwargs["pk"],
            workspace__company__in=companies_for(user=self.request.user).values("pk"),
        ).order_by("id")[:size]


def empty(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"{}", content_type="application/json")


def select_one(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchall()
    return HttpResponse(b"{}", content_type="application/json")


urlpatterns = [
    *project_urls,
    path("bench/bare/<int:pk>/", BareDeliverableList.as_view()),
    path("bench/empty/", empty),
    path("bench/select-one/", select_one),
]
