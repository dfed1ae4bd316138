"""One JSON error shape and one pagination for the whole API.

Every error body is {"error": {"code": str, "message": str, "details": ...}}.
"""

import logging
import sys
from datetime import datetime

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.core.paginator import Paginator as DjangoPaginator
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
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


def iso_datetime(value: datetime | None) -> str | None:
    """DRF's DateTimeField output (UTC written as "Z"; the project's time zone is UTC)
    without a field object per value: hand-written representations of hot reads use it."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# The ids PostgreSQL's bigint holds: any other number names no row.
BIGINT = range(-(2**63), 2**63)


class PreparedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A PrimaryKeyRelatedField whose lookup is a prepared statement: `lookup`, a
    core.prepared.PreparedQuery with one int parameter `pk` (at most one row). The
    answers are DRF's: incorrect_type for what is not an id, does_not_exist for an id
    without a row."""

    def __init__(self, *, lookup, **kwargs) -> None:
        self.lookup = lookup
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            if isinstance(data, bool | float):
                raise TypeError
            pk = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        rows = self.lookup(pk=pk) if pk in BIGINT else []
        if not rows:
            self.fail("does_not_exist", pk_value=data)
        return rows[0]


class OneQueryPaginator(DjangoPaginator):
    """Django's paginator, reading a page of core.prepared.PreparedRows in one
    statement: the rows and, beside them, the total (the count is asked for only
    when the page is empty). Any other list is paginated as Django does."""

    def page(self, number):
        rows_of = getattr(self.object_list, "page_rows", None)
        if rows_of is None or self.orphans:
            return super().page(number)
        number = self.validate_number_format(number)
        rows, total = rows_of(offset=(number - 1) * self.per_page, limit=self.per_page)
        if total is not None:
            self.__dict__["count"] = total  # cached_property: no count query
        number = self.validate_number(number)
        return self._get_page(rows, number, self)

    def validate_number_format(self, number) -> int:
        # The first half of Django's validate_number: its range check needs the count,
        # which this page's statement brings.
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError) as exc:
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from exc
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        if number * self.per_page not in BIGINT:
            # No table holds that many rows, and PostgreSQL refuses the offset (a 500).
            raise EmptyPage(self.error_messages["no_results"])
        return number


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = OneQueryPaginator


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
