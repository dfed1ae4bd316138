"""One JSON error shape and one pagination for the whole API.

Every error body is {"error": {"code": str, "message": str, "details": ...}}.
"""

import logging
import sys

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import InterfaceError, OperationalError
from django.db.models import Count, Window
from django.http import Http404, JsonResponse
from django.utils.functional import cached_property
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

logger = logging.getLogger(__name__)

# Seconds a client is told to wait when the database is unavailable.
DATABASE_RETRY_AFTER = 5


# The ids and offsets PostgreSQL's bigint holds: past them a page names no rows.
BIGINT_MAX = 2**63 - 1


class WindowCountPaginator(Paginator):
    """Django's paginator whose page query also brings the total: each row carries a
    count over the whole filtered query (a window function), so a page costs one
    query instead of a page query and a count. An empty page past the first has no
    count to show: it is the 404 it would be anyway."""

    total: int | None = None

    def page(self, number) -> Page:
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError) as exc:
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from exc
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page > BIGINT_MAX:
            raise EmptyPage(self.error_messages["no_results"])
        rows = list(
            self.object_list.annotate(page_total=Window(Count("pk")))[
                bottom : bottom + self.per_page
            ]
        )
        if rows:
            self.total = rows[0].page_total
        elif number == 1 and self.allow_empty_first_page:
            self.total = 0
        else:
            raise EmptyPage(self.error_messages["no_results"])
        return Page(rows, self.validate_number(number), self)

    @cached_property
    def count(self) -> int:
        return self.total if self.total is not None else super().count


class Pagination(PageNumberPagination):
    """Numbered pages. A `page_size` that is not a whole number from 1 to
    `max_page_size` is a 400, as every other list's size is, not silently capped."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: f"A whole number from 1 to {self.max_page_size}."}
            )
        return size

    def check_query(self, request) -> None:
        """Reject a bad page size or page number before the view does any work (a
        read that may call the model validates first)."""
        self.get_page_size(request)
        page = request.query_params.get(self.page_query_param, "1")
        if page not in self.last_page_strings and not (page.isdigit() and int(page) >= 1):
            message = self.invalid_page_message.format(page_number=page, message="")
            raise exceptions.NotFound(message)


class WindowCountPagination(Pagination):
    """Numbered pages of a queryset in one query each (WindowCountPaginator)."""

    django_paginator_class = WindowCountPaginator


def error_body(code: str, message: str, details=None) -> dict:
    body = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def _message_of(detail) -> str:
    if isinstance(detail, list) and detail:
        return _message_of(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _message_of(value)
        return inner if key == "non_field_errors" else f"{key}: {inner}"
    return str(detail)


def database_unavailable_body() -> dict:
    return error_body("database_unavailable", "The database is unavailable; try again shortly.")


def exception_handler(exc, context):
    request = context.get("request")
    if request is not None:
        # Errors are JSON whatever the view renders otherwise (HTML docs, an
        # Accept header nothing matched).
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = "application/json"
    if isinstance(exc, DomainError):
        if exc.private_detail and exc.detail:
            logger.warning("%s: %s", exc.code, exc.detail)
        return Response(exc.body(), status=exc.status_code, headers=exc.headers())
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(
            database_unavailable_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body("bad_request", "Bad request."), status=400)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        code, message, details = "invalid", _message_of(detail), detail
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        message = detail.get("detail", str(detail)) if isinstance(detail, dict) else str(detail)
        details = None
    response.data = error_body(code, str(message), details)
    return response


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(required=False)


class ErrorSerializer(serializers.Serializer):
    """The error body, for the OpenAPI schema."""

    error = ErrorDetailSerializer()


def json_404(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """handler404: the JSON error shape under /api/, Django's page elsewhere."""
    if _is_api(request):
        return json_404(request, exception)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """handler400 (a bad Host header, a body over the upload limit …): JSON under /api/."""
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            body, code = error_body("too_large", "The request body is too large."), 413
        else:
            body, code = error_body("bad_request", "Bad request."), 400
        return JsonResponse(body, status=code)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    """handler403 (e.g. a CSRF failure outside DRF): JSON under /api/."""
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    """handler500: an API client gets the JSON error shape even for a crash, and a 503
    with Retry-After when the crash is the database being unavailable (raised before
    any view ran: in a middleware, or while authenticating)."""
    if _is_api(request):
        if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
            return JsonResponse(
                database_unavailable_body(),
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
            )
        return JsonResponse(
            error_body("server_error", "Internal server error."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)
