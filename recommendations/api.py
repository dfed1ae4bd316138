"""Thin DRF views: parse, call one service or selector, render. Domain errors become
HTTP in core.api.exception_handler (409 illegal transition, 503 provider down)."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.permissions import (
    CompanyRouteMixin,
    CompanyScopedMixin,
    HasCompanyWriteRole,
    RouteMembershipMixin,
)
from companies.selectors import can_write
from core.api import BIGINT, ErrorSerializer
from generation.throttles import GenerationThrottleMixin
from recommendations import selectors, services
from recommendations.models import JourneyStep, Recommendation
from recommendations.serializers import (
    EffectivenessSerializer,
    FeedbackSerializer,
    HealthSummarySerializer,
    InsightQuerySerializer,
    InsightSerializer,
    JourneyDomainSerializer,
    RecommendationListQuerySerializer,
    RecommendationSerializer,
    StepProgressInputSerializer,
    StepProgressSerializer,
)

ERRORS = {404: ErrorSerializer, 429: ErrorSerializer, 503: ErrorSerializer}


class CompanyReadMixin(RouteMembershipMixin, CompanyRouteMixin):
    """The route's company, its membership check, current context and active prompt
    versions in one query, once per request (services.company_for_read); with a
    token, that query is also the authentication (RouteMembershipMixin)."""

    membership_query = selectors.READ_MEMBERSHIP

    def get_company(self):
        if not hasattr(self, "_company"):
            company = services.company_for_read(
                user=self.request.user,
                company_id=self.kwargs["company_id"],
                membership=self.route_membership,
            )
            if company is None:
                raise Http404
            self._company = company
        return self._company


class RecommendationListView(GenerationThrottleMixin, CompanyReadMixin, APIView):
    def joined_read(self, request):
        query = self.list_query = RecommendationListQuerySerializer(data=request.query_params)
        if not query.is_valid():
            return None  # get() answers 400
        limit = query.validated_data.get("limit") or settings.RECOMMENDATIONS_DEFAULT_LIMIT
        return selectors.READ_MEMBERSHIP_WITH_RECOMMENDATIONS, {"shapes": (limit,)}

    @extend_schema(
        parameters=[RecommendationListQuerySerializer],
        responses={200: RecommendationSerializer(many=True), 400: ErrorSerializer, **ERRORS},
        summary="Recommendations for the company's current context (generated if missing)",
    )
    def get(self, request, company_id: int):
        query = getattr(self, "list_query", None)  # parsed by joined_read
        if query is None:
            query = RecommendationListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = services.recommendations_for(
            company=self.get_company(), limit=query.validated_data.get("limit")
        )
        data = RecommendationSerializer(
            page.items, many=True, context={"context_hash": page.context_hash}
        ).data
        return Response(data)


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

    def joined_read(self, request):
        # Read with the membership when the request names its target and page plainly;
        # get() validates them as usual (a bad id or page is still its 400 or 404).
        params = request.query_params
        try:
            number = int(params.get(self.paginator.page_query_param) or 1)
            target = params["step"] if "step" in params else params["domain"]
            target_id = int(target)
        except (KeyError, ValueError):
            return None
        if number < 1 or target_id < 1 or target_id not in BIGINT:
            return None
        size = self.paginator.get_page_size(request)
        if number * size not in BIGINT:
            return None  # not a page: get() answers 404
        query = (
            selectors.READ_MEMBERSHIP_WITH_STEP_INSIGHTS
            if "step" in params
            else selectors.READ_MEMBERSHIP_WITH_DOMAIN_INSIGHTS
        )
        offset = (number - 1) * size
        return query, {"target_id": target_id, "shapes": ((offset, offset + size),)}

    @extend_schema(
        parameters=[InsightQuerySerializer],
        responses={200: InsightSerializer(many=True), 400: ErrorSerializer, **ERRORS},
        summary="Peer insights by domain or step, most relevant first (generated if missing)",
    )
    def get(self, request, *args, **kwargs):
        company = self.get_company()
        query = InsightQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        domain, step = services.resolve_insight_target(
            company=company,
            domain=query.validated_data.get("domain"),
            step=query.validated_data.get("step"),
        )
        self.context_hash = ""
        if domain is None:  # no journey at all: nothing to show
            page = self.paginate_queryset(selectors.insights_queryset(company=company).none())
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        content = services.insights_for(
            company=company, domain=domain, step=step, take=self.paginate_queryset
        )
        self.context_hash = content.context_hash
        return self.get_paginated_response(self.get_serializer(content.items, many=True).data)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "context_hash": self.context_hash}


class HealthSummaryView(GenerationThrottleMixin, CompanyReadMixin, APIView):
    def joined_read(self, request):
        return selectors.READ_MEMBERSHIP_WITH_HEALTH, {}

    @extend_schema(
        responses={200: HealthSummarySerializer, **ERRORS},
        summary="The company's current health summary (generated if missing)",
    )
    def get(self, request, company_id: int):
        page = services.health_summary_for(company=self.get_company())
        return Response(
            HealthSummarySerializer(page.items[0], context={"context_hash": page.context_hash}).data
        )


class JourneyView(CompanyReadMixin, APIView):
    def joined_read(self, request):
        return selectors.READ_MEMBERSHIP_WITH_JOURNEY, {}

    @extend_schema(
        responses={200: JourneyDomainSerializer(many=True), 404: ErrorSerializer},
        summary="The journey's domains and steps with this company's progress",
    )
    def get(self, request, company_id: int):
        domains = selectors.journey_for(company=self.get_company())
        return Response(JourneyDomainSerializer(domains, many=True).data)


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
        if not can_write(user=request.user, company=company):
            raise exceptions.PermissionDenied(HasCompanyWriteRole.message)
        step = get_object_or_404(JourneyStep.objects.select_related("domain"), pk=step_id)
        body = StepProgressInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        progress = services.update_step_progress(
            company=company, step=step, status=body.validated_data["status"]
        )
        return Response(StepProgressSerializer(progress).data)


class EffectivenessListView(CompanyRouteMixin, generics.ListAPIView):
    serializer_class = EffectivenessSerializer

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        summary="Whether recommendations were started/completed, and how fast",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.effectiveness_queryset(company=self.get_company())
