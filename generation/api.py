import logging

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.permissions import CompanyScopedMixin
from companies.selectors import companies_for
from core.api import ErrorSerializer
from generation.models import Generation
from generation.selectors import usage_report
from generation.serializers import GenerationSerializer, UsageQuerySerializer, UsageSerializer
from generation.usage_sections import figures_for

logger = logging.getLogger(__name__)


class HealthView(APIView):
    """Liveness plus a real database round trip."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception:  # any database failure means "not healthy"
            # The error names hosts and databases: the log gets it, callers do not.
            logger.warning("health check: database unavailable", exc_info=True)
            return Response(
                {"status": "unavailable", "database": "unavailable"},
                status=503,
                headers={"Retry-After": "5"},
            )
        return Response({"status": "ok", "database": connection.vendor})


class GenerationDetailView(CompanyScopedMixin, generics.RetrieveAPIView):
    """The whole state of one generation at any moment (status, text so far, result)."""

    queryset = Generation.objects.all()
    serializer_class = GenerationSerializer


class UsageView(APIView):
    """Provider calls, cache hits, tokens and cost per day x kind x company."""

    @extend_schema(
        parameters=[UsageQuerySerializer],
        responses={
            200: UsageSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request):
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        companies = companies_for(user=request.user)
        if "company" in params:
            companies = companies.filter(pk=params["company"])
            # Another company's id is simply not found, as for any other object.
            if not companies.exists():
                raise exceptions.NotFound("No such company.")
        report = usage_report(
            company_ids=companies.values("pk"),
            since=params["since"],
            until=params["until"],
            kind=params.get("kind") or None,
        )
        report["sections"] = {
            s.name: s.figures
            for s in figures_for(user=request.user, since=params["since"], until=params["until"])
        }
        return Response(UsageSerializer(report).data)
