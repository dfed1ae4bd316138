"""Thin DRF views: parse, call one service or selector, render. Domain errors become
HTTP in core.api.exception_handler (409 illegal transition, 503 provider down)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.permissions import CompanyRouteMixin, CompanyScopedMixin, HasCompanyWriteRole
from core.api import ErrorSerializer, WindowCountPagination
from generation.pending import PREFER_PARAMETER, pending_body, prefers_async, read_response
from generation.throttles import GenerationThrottleMixin
from recommendations import selectors, services
from recommendations.models import JourneyStep, Recommendation
from recommendations.serializers import (
    EffectivenessSerializer,
    FeedbackSerializer,
    HealthSummarySerializer,
    InsightPageSerializer,
    InsightQuerySerializer,
    InsightSerializer,
    JourneyDomainSerializer,
    RecommendationListQuerySerializer,
    RecommendationSerializer,
    StepProgressInputSerializer,
    StepProgressSerializer,
)

ERRORS = {404: ErrorSerializer, 429: ErrorSerializer, 503: ErrorSerializer}


class CompanyReadMixin(CompanyRouteMixin):
    """The route's company (the caller's membership, one query) and the lookups its
    reads share (cached: services.read_lookups), once per request."""

    lookups: services.ReadLookups | None = None

    def get_lookups(self) -> services.ReadLookups:
        if self.lookups is None:
            self.lookups = services.read_lookups(company=self.get_company())
        return self.lookups


class RecommendationListView(GenerationThrottleMixin, CompanyReadMixin, APIView):
    @extend_schema(
        parameters=[RecommendationListQuerySerializer, PREFER_PARAMETER],
        responses={
            200: RecommendationSerializer(many=True),
            202: pending_body("PendingRecommendations", RecommendationSerializer(many=True)),
            400: ErrorSerializer,
            **ERRORS,
        },
        summary="Recommendations for the company's current context (generated if missing)",
    )
    def get(self, request, company_id: int):
        query = RecommendationListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = services.recommendations_for(
            company=self.get_company(),
            limit=query.validated_data.get("limit"),
            lookups=self.get_lookups(),
            wait=not prefers_async(request),
        )
        data = RecommendationSerializer(
            page.items, many=True, context=page.serializer_context()
        ).data
        return read_response(request, data, page.pending)


class RecommendationActionView(CompanyScopedMixin, generics.GenericAPIView):
    queryset = Recommendation.objects.select_related("step__domain")
    serializer_class = RecommendationSerializer
    permission_classes = [*generics.GenericAPIView.permission_classes, HasCompanyWriteRole]
    company_field = "company"

    def respond(self, recommendation: Recommendation) -> Response:
        return Response(RecommendationSerializer(recommendation).data)


class StartRecommendationView(RecommendationActionView):
    @extend_schema(
        request=None,
        responses={200: RecommendationSerializer, 409: ErrorSerializer, **ERRORS},
        summary="Start a recommendation (fresh or active; the first start is timed)",
    )
    def post(self, request, pk: int):
        rec = services.start_recommendation(recommendation=self.get_object())
        return self.respond(rec)


class CompleteRecommendationView(RecommendationActionView):
    @extend_schema(
        request=None,
        responses={200: RecommendationSerializer, 409: ErrorSerializer, **ERRORS},
        summary="Complete an active recommendation",
    )
    def post(self, request, pk: int):
        rec = services.complete_recommendation(recommendation=self.get_object())
        return self.respond(rec)


class FeedbackRecommendationView(RecommendationActionView):
    @extend_schema(
        request=FeedbackSerializer,
        responses={200: RecommendationSerializer, 400: ErrorSerializer, **ERRORS},
        summary="Record the user's feedback on a recommendation",
    )
    def post(self, request, pk: int):
        rec = self.get_object()
        body = FeedbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rec = services.record_feedback(recommendation=rec, by=request.user, **body.validated_data)
        return self.respond(rec)


class InsightListView(GenerationThrottleMixin, CompanyReadMixin, generics.ListAPIView):
    serializer_class = InsightSerializer
    pagination_class = WindowCountPagination

    @extend_schema(
        parameters=[InsightQuerySerializer, PREFER_PARAMETER],
        responses={
            200: InsightSerializer(many=True),
            202: pending_body("PendingInsights", InsightPageSerializer()),
            400: ErrorSerializer,
            **ERRORS,
        },
        summary="Peer insights by domain or step, most relevant first (generated if missing)",
    )
    def get(self, request, *args, **kwargs):
        self.paginator.check_query(request)
        company = self.get_company()
        lookups = self.get_lookups()
        query = InsightQuerySerializer(
            data=request.query_params, context={"journey": lookups.journey}
        )
        query.is_valid(raise_exception=True)
        domain, step = services.resolve_insight_target(
            domain=query.validated_data.get("domain"),
            step=query.validated_data.get("step"),
            journey=lookups.journey,
        )
        if domain is None:  # no journey at all: nothing to show
            page = self.paginate_queryset(selectors.insights_queryset(company=company).none())
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        content = services.insights_for(
            company=company,
            domain=domain,
            step=step,
            take=self.paginate_queryset,
            lookups=lookups,
            wait=not prefers_async(request),
        )
        data = InsightSerializer(content.items, many=True, context=content.serializer_context())
        page = self.get_paginated_response(data.data).data
        return read_response(request, page, content.pending)


class HealthSummaryView(GenerationThrottleMixin, CompanyReadMixin, APIView):
    @extend_schema(
        parameters=[PREFER_PARAMETER],
        responses={
            200: HealthSummarySerializer,
            202: pending_body("PendingHealthSummary", HealthSummarySerializer(allow_null=True)),
            **ERRORS,
        },
        summary="The company's current health summary (generated if missing)",
    )
    def get(self, request, company_id: int):
        page = services.health_summary_for(
            company=self.get_company(),
            lookups=self.get_lookups(),
            wait=not prefers_async(request),
        )
        context = page.serializer_context()
        data = HealthSummarySerializer(page.items[0], context=context).data if page.items else None
        return read_response(request, data, page.pending)


class JourneyView(CompanyReadMixin, APIView):
    @extend_schema(
        responses={200: JourneyDomainSerializer(many=True), 404: ErrorSerializer},
        summary="The journey's domains and steps with this company's progress",
    )
    def get(self, request, company_id: int):
        return Response(JourneyDomainSerializer(self.get_lookups().journey, many=True).data)


class StepProgressView(CompanyRouteMixin, APIView):
    @extend_schema(
        request=StepProgressInputSerializer,
        responses={
            200: StepProgressSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        summary="Set the company's status on a step; the company context changes",
    )
    def post(self, request, company_id: int, step_id: int):
        company = self.get_company()
        self.require_write_role()
        step = get_object_or_404(JourneyStep.objects.select_related("domain"), pk=step_id)
        body = StepProgressInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        progress = services.update_step_progress(
            company=company, step=step, status=body.validated_data["status"]
        )
        return Response(StepProgressSerializer(progress).data)


class EffectivenessListView(CompanyRouteMixin, generics.ListAPIView):
    serializer_class = EffectivenessSerializer
    pagination_class = WindowCountPagination

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        summary="Whether recommendations were started/completed, and how fast",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.effectiveness_queryset(company=self.get_company())
