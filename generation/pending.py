"""Reads that do not wait: RFC 7240's `Prefer: respond-async` on content reads.

Without it a read that finds content missing makes it (a bounded wait). With it the
read answers at once with what is stored; content being written is listed with its
generation's URL (its whole state at any moment) and its events URL (Server-Sent
Events: the text as it is written, then `done` or `failed`). Such an answer is a
202 with the usual body under `results` and the generations under `pending`; when
nothing is being written it is the usual 200. Either way `Preference-Applied` says
the preference was honoured.
"""

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from generation.models import Generation

RESPOND_ASYNC = "respond-async"

PREFER_PARAMETER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "`respond-async`: answer at once with what is stored (202 with `results` and "
        "`pending` while content is being written); without it the read waits for "
        "missing content (at most GENERATION_WAIT_SECONDS)."
    ),
)


def prefers_async(request: Request) -> bool:
    """Whether the client asked not to wait (a `Prefer` header naming respond-async)."""
    tokens = request.headers.get("Prefer", "").replace(";", ",").split(",")
    return any(token.strip().lower() == RESPOND_ASYNC for token in tokens)


class PendingGenerationSerializer(serializers.Serializer):
    kind = serializers.CharField()
    generation = serializers.URLField(help_text="The generation's whole state.")
    events = serializers.URLField(help_text="Its progress as Server-Sent Events.")


def pending_entries(request: Request, generations: Sequence[Generation]) -> list[dict[str, Any]]:
    return [
        {
            "kind": generation.kind,
            "generation": reverse("generation-detail", args=[generation.pk], request=request),
            "events": reverse("generation-events", args=[generation.pk], request=request),
        }
        for generation in generations
    ]


def read_response(request: Request, data: Any, pending: Sequence[Generation]) -> Response:
    """The answer to a content read: the usual one, or, when the client did not wait
    and content is being written, a 202 listing it beside what is stored."""
    headers = {"Preference-Applied": RESPOND_ASYNC} if prefers_async(request) else {}
    if not pending:
        return Response(data, headers=headers)
    body = {"results": data, "pending": pending_entries(request, pending)}
    return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


def pending_body(name: str, results: serializers.Field) -> serializers.Serializer:
    """The 202 body's schema: the usual body under `results`, and `pending`."""
    return inline_serializer(
        name, {"results": results, "pending": PendingGenerationSerializer(many=True)}
    )
