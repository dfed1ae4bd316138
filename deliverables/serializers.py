from typing import Any

from rest_framework import serializers

from core.representations import CachedRepresentationListSerializer, CachedRepresentationSerializer
from deliverables.models import Deliverable, DeliverableStatus, DisplayFormat, Workspace
from generation.rendering import render_markdown

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class WorkspaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["id", "company", "name", "goal", "created_at"]
        read_only_fields = fields


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


# A listed deliverable's fields that change without a new display: rendered from the
# row on every listing.
ROW_FIELDS = ["id", "title", "status", "content_transformation_status", "updated_at"]
# Its fields that are the same for as long as its display is: rendered once per display
# and cached (DeliverableListSerializer).
DISPLAY_FIELDS = [
    "display_content",
    "display_format",
    "display_html",
    "transformation_timestamp",
    "display_quality_score",
    "ai_confidence",
    "auto_display_generated",
]


class DeliverableDisplaySerializer(serializers.ModelSerializer):
    """A deliverable's display fields. `display_content` is cleaned HTML when
    display_format is "html", markdown text otherwise (render it, then sanitize);
    `display_html` is cleaned HTML either way."""

    display_html = serializers.SerializerMethodField(help_text=DISPLAY_HTML_HELP)

    class Meta:
        model = Deliverable
        fields = DISPLAY_FIELDS
        read_only_fields = fields

    def get_display_html(self, deliverable: Deliverable) -> str:
        return display_html(deliverable.display_content, deliverable.display_format)


class DeliverableListSerializer(CachedRepresentationSerializer, DeliverableDisplaySerializer):
    """One listed deliverable, without its raw content: its row fields and its display
    fields. A display never changes once written: every write of one sets a new
    transformation_timestamp (clearing it sets None), so its rendered fields (above
    all display_html: markdown rendered, then cleaned by nh3) are cached under
    (deliverable, source hash, prompt version, timestamp); the row fields are
    rendered on every read."""

    per_read_fields = tuple(ROW_FIELDS)

    class Meta(DeliverableDisplaySerializer.Meta):
        fields = [*ROW_FIELDS, *DISPLAY_FIELDS]
        read_only_fields = fields
        list_serializer_class = CachedRepresentationListSerializer

    def cache_key(self, deliverable: Deliverable) -> str | None:
        if deliverable.transformation_timestamp is None:
            return None  # no written display: nothing worth caching
        return ":".join(
            (
                f"deliverable-display-v{self.cache_version}",
                str(deliverable.pk),
                deliverable.display_source_hash,
                str(deliverable.display_prompt_id),
                deliverable.transformation_timestamp.isoformat(),
            )
        )


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


class DeliverableSerializer(DeliverableDisplaySerializer):
    """One deliverable with its raw content."""

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
