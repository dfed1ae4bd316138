"""Thin DRF views: parse, call one service or selector, render. Domain errors become
HTTP in core.api.exception_handler (422 idempotency conflict, 409 no proposal)."""

import time

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.models import WRITE_ROLES, Membership
from companies.selectors import companies_for
from core.api import ErrorSerializer, Pagination
from generation.events import hub, release_connection
from generation.throttles import GenerationThrottleMixin
from reviews import selectors, services
from reviews.lifecycle import TERMINAL
from reviews.models import Run
from reviews.serializers import (
    MetricsQuerySerializer,
    RevisionCreateSerializer,
    RunCreateSerializer,
    RunQuerySerializer,
    RunSerializer,
    RunSummarySerializer,
    WaitQuerySerializer,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer}
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The same key and body return the same run; another body is a 422.",
)
WAIT = OpenApiParameter(
    "wait",
    float,
    OpenApiParameter.QUERY,
    required=False,
    description="Wait up to this many seconds (capped by REVIEWS_MAX_WAIT_SECONDS) for the "
    "run to finish: 200 with the finished run, or 202 if it is still running.",
)


def _wait_for(run: Run, seconds: float) -> Run:
    """Block until the run has finished or `seconds` have passed. Holds no database
    connection while it sleeps: the process's listener hub wakes it."""
    seconds = min(seconds, settings.REVIEWS_MAX_WAIT_SECONDS)
    deadline = time.monotonic() + seconds
    with hub.subscribe(services.run_key(run.pk)) as subscription:
        while True:
            run.refresh_from_db(fields=["status"])
            left = deadline - time.monotonic()
            if run.status in TERMINAL or left <= 0:
                return run
            release_connection()
            subscription.wait(min(left, 1.0))


def _wait_query(request) -> float | None:
    """?wait=, validated before the request writes anything."""
    query = WaitQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data.get("wait")


def _respond(request, run: Run, *, wait: float | None) -> Response:
    if wait:
        _wait_for(run, wait)
    run = selectors.run_detail_queryset(user=request.user).get(pk=run.pk)
    data = RunSerializer(run).data
    code = status.HTTP_200_OK if run.status in TERMINAL else status.HTTP_202_ACCEPTED
    headers = {"Location": data["url"]}
    if code == status.HTTP_202_ACCEPTED:
        headers["Retry-After"] = "1"
    return Response(data, status=code, headers=headers)


class RunListCreateView(GenerationThrottleMixin, generics.ListAPIView):
    serializer_class = RunSummarySerializer
    pagination_class = Pagination
    # Reading the list costs no model call: only starting a run is charged.
    generating_methods = frozenset({"POST"})

    @extend_schema(
        parameters=[RunQuerySerializer],
        responses={
            200: RunSummarySerializer(many=True),
            400: ErrorSerializer,
            401: ErrorSerializer,
        },
        summary="The review runs of your companies, newest first (paginated)",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = RunQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.run_list(user=self.request.user, **query.validated_data)

    @extend_schema(
        request=RunCreateSerializer,
        parameters=[IDEMPOTENCY, WAIT],
        responses={
            202: RunSerializer,
            200: RunSerializer,
            403: ErrorSerializer,
            422: ErrorSerializer,
            **ERRORS,
        },
        summary="Start a review run: 202 with the run's URL (or wait for it with ?wait=)",
    )
    def post(self, request):
        # Everything the request says is checked before anything is written or asked.
        wait = _wait_query(request)
        body = RunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "").strip() or None
        if key is not None and len(key) > 200:
            raise exceptions.ValidationError({"Idempotency-Key": ["At most 200 characters."]})
        company = _company_for_write(request.user, body.validated_data.get("company"))
        run, _ = services.create_run(
            company=company,
            user=request.user,
            idea=body.validated_data["idea"],
            extra_context=body.validated_data["extra_context"],
            idempotency_key=key,
        )
        return _respond(request, run, wait=wait)


def _company_for_write(user, company_id: int | None):
    companies = companies_for(user=user)
    if company_id is None:
        ids = list(companies.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            raise exceptions.ValidationError({"company": ["Say which of your companies."]})
        company_id = ids[0]
    company = get_object_or_404(companies, pk=company_id)
    if not Membership.objects.filter(user=user, company=company, role__in=WRITE_ROLES).exists():
        raise exceptions.PermissionDenied("Your role in this company does not allow changes.")
    return company


class RunDetailView(APIView):
    @extend_schema(
        responses={200: RunSerializer, **ERRORS},
        summary="The whole state of a run: status, proposal, reviews so far, decision, error",
    )
    def get(self, request, pk):
        run = get_object_or_404(selectors.run_detail_queryset(user=request.user), pk=pk)
        return Response(RunSerializer(run).data)


class RevisionView(GenerationThrottleMixin, APIView):
    generating_methods = frozenset({"POST"})

    @extend_schema(
        request=RevisionCreateSerializer,
        parameters=[WAIT],
        responses={202: RunSerializer, 200: RunSerializer, 409: ErrorSerializer, **ERRORS},
        summary="Revise a run: a new run whose proposal is a new version of the parent's",
    )
    def post(self, request, pk):
        # Everything the request says is checked before anything is written or asked.
        wait = _wait_query(request)
        body = RevisionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        parent = get_object_or_404(selectors.runs_for(user=request.user), pk=pk)
        _company_for_write(request.user, parent.company_id)
        run = services.create_revision(
            parent=parent,
            user=request.user,
            edit_notes=body.validated_data["edit_notes"],
            idea=body.validated_data.get("idea"),
            extra_context=body.validated_data["extra_context"],
        )
        return _respond(request, run, wait=wait)


class MetricsView(APIView):
    @extend_schema(
        parameters=[MetricsQuerySerializer],
        responses={200: dict, **ERRORS},
        summary="Review runs per day: count, failure rate, duration p50/p95, calls per run",
    )
    def get(self, request):
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(selectors.metrics(user=request.user, **query.validated_data))
