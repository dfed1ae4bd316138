from typing import Any

from rest_framework import serializers

from core.api import iso_datetime
from deliverables.models import (
    Deliverable,
    DeliverableStatus,
    DisplayFormat,
    TransformationStatus,
    Workspace,
)
from generation.rendering import render_markdown

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class WorkspaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["id", "company", "name", "goal", "created_at"]
        read_only_fields = fields

    def to_representation(self, workspace: Workspace) -> dict[str, Any]:
        # Written out: it heads every deliverables page, and a ModelSerializer builds
        # its fields anew for each one (tests/deliverables/test_serializers.py).
        return {
            "id": workspace.id,
            "company": workspace.company_id,
            "name": workspace.name,
            "goal": workspace.goal,
            "created_at": iso_datetime(workspace.created_at),
        }


class DeliverablePageQuerySerializer(serializers.Serializer):
    """Keyset pages in id order: `after` is the last id of the previous page."""

    after = serializers.IntegerField(required=False, min_value=0)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {"after": attrs.get("after"), "limit": attrs["page_size"]}


def display_html(content: str, display_format: str) -> str:
    """The display as HTML an API client may insert as it is: markdown rendered and
    cleaned (model output is untrusted, <script> and event handlers go); an HTML
    display was cleaned before it was stored."""
    if not content:
        return ""
    if display_format == DisplayFormat.HTML:
        return content
    return render_markdown(content)


DISPLAY_HTML_HELP = "The display as cleaned HTML, safe to insert into a page whatever its format."


class DeliverableListSerializer(serializers.Serializer):
    """One listed deliverable, from a row dict of selectors.deliverable_page.

    The fields are declared for the schema; to_representation is written out by
    hand because the list is the hot path (see bench/deliverables_list.py).
    `display_content` is cleaned HTML when display_format is "html", markdown
    text otherwise (render it, then sanitize).
    """

    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=DeliverableStatus.choices, read_only=True)
    display_content = serializers.CharField(read_only=True)
    display_format = serializers.ChoiceField(choices=DisplayFormat.choices, read_only=True)
    display_html = serializers.CharField(read_only=True, help_text=DISPLAY_HTML_HELP)
    transformation_timestamp = serializers.DateTimeField(read_only=True, allow_null=True)
    content_transformation_status = serializers.ChoiceField(
        choices=TransformationStatus.choices, read_only=True
    )
    display_quality_score = serializers.FloatField(read_only=True, allow_null=True)
    ai_confidence = serializers.FloatField(read_only=True, allow_null=True)
    auto_display_generated = serializers.BooleanField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "title": row["title"],
            "status": row["status"],
            "display_content": row["display_content"],
            "display_format": row["display_format"],
            "display_html": display_html(row["display_content"], row["display_format"]),
            "transformation_timestamp": iso_datetime(row["transformation_timestamp"]),
            "content_transformation_status": row["content_transformation_status"],
            "display_quality_score": row["display_quality_score"],
            "ai_confidence": row["ai_confidence"],
            "auto_display_generated": row["auto_display_generated"],
            "updated_at": iso_datetime(row["updated_at"]),
        }


class CacheStatsSerializer(serializers.Serializer):
    cached = serializers.IntegerField(help_text="Served from the stored display: no call.")
    transformed = serializers.IntegerField(help_text="Provider calls made by this request.")
    queued = serializers.IntegerField(help_text="Transform tasks queued by this request.")
    pending = serializers.IntegerField(help_text="Deliverables whose display is on its way.")
    failed = serializers.IntegerField()
    calls_saved = serializers.IntegerField()


class ListingMetaSerializer(serializers.Serializer):
    cache = CacheStatsSerializer()


class DeliverableListResponseSerializer(serializers.Serializer):
    """The documented shape of the workspace deliverables listing."""

    workspace = WorkspaceSerializer()
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    results = DeliverableListSerializer(many=True)
    meta = ListingMetaSerializer()


class DeliverableSerializer(serializers.ModelSerializer):
    """One deliverable with its raw content."""

    display_html = serializers.SerializerMethodField(help_text=DISPLAY_HTML_HELP)

    def get_display_html(self, deliverable: Deliverable) -> str:
        return display_html(deliverable.display_content, deliverable.display_format)

    class Meta:
        model = Deliverable
        fields = [
            "id",
            "workspace",
            "title",
            "status",
            "content",
            "display_content",
            "display_format",
            "display_html",
            "transformation_timestamp",
            "content_transformation_status",
            "display_quality_score",
            "ai_confidence",
            "auto_display_generated",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DeliverableUpdateSerializer(serializers.Serializer):
    """What an editor may change; new content makes the display stale."""

    title = serializers.CharField(max_length=300, required=False, allow_blank=False)
    status = serializers.ChoiceField(choices=DeliverableStatus.choices, required=False)
    content = serializers.JSONField(required=False)

    def validate_content(self, value: Any) -> Any:
        if not isinstance(value, dict | list):
            raise serializers.ValidationError("Content must be a JSON object or array.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send at least one of title, status, content.")
        return attrs
