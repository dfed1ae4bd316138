from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.permissions import CompanyScopedMixin
from generation.models import Generation
from generation.serializers import GenerationSerializer


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
        except Exception as exc:  # any database failure means "not healthy"
            return Response(
                {"status": "error", "database": "unavailable", "error": str(exc)[:200]},
                status=503,
            )
        return Response({"status": "ok", "database": connection.vendor})


class GenerationDetailView(CompanyScopedMixin, generics.RetrieveAPIView):
    """The whole state of one generation at any moment (status, text so far, result)."""

    queryset = Generation.objects.all()
    serializer_class = GenerationSerializer
