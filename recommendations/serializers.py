from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.representations import CachedRepresentationListSerializer, CachedRepresentationSerializer
from recommendations import selectors
from recommendations.lifecycle import Status
from recommendations.models import (
    CompanyStepProgress,
    HealthSummary,
    Insight,
    JourneyStep,
    Recommendation,
    RecommendationEffectiveness,
    StepStatus,
)


class StepRefSerializer(serializers.ModelSerializer):
    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = JourneyStep
        fields = ["id", "slug", "name", "domain"]


class ContentMixin(CachedRepresentationSerializer, serializers.Serializer):
    """Provenance and lifecycle fields shared by the three kinds of content.

    A row's content and provenance never change once stored (an admin's edit raises
    its revision), so their representation is cached by (row, artefact, revision);
    what a read changes or decides (status, showings, whether it is new or a
    fallback) is rendered on every read. `context["page"]`, the read's
    services.ContentPage, says what the read decided.
    """

    status = serializers.SerializerMethodField()
    is_new = serializers.SerializerMethodField(help_text="First time this was shown.")
    is_fallback = serializers.SerializerMethodField(
        help_text=(
            "Earlier content (another company context, or served because the current "
            "content could not be made)."
        )
    )
    is_offline = serializers.BooleanField(read_only=True)
    per_read_fields = (
        "status",
        "is_new",
        "is_fallback",
        "last_presented_at",
        "times_presented",
    )

    def cache_key(self, obj) -> str:
        label = obj._meta.label_lower
        return f"content:{label}:{obj.pk}:{obj.generation_id}:{obj.revision}:{self.cache_version}"

    def _page(self):
        return self.context.get("page")

    @extend_schema_field(serializers.ChoiceField(choices=Status.choices))
    def get_status(self, obj) -> str:
        page = self._page()
        return page.status_of(obj) if page is not None else obj.status

    def get_is_new(self, obj) -> bool:
        page = self._page()
        return page is not None and obj.pk in page.new

    def get_is_fallback(self, obj) -> bool:
        page = self._page()
        return page is not None and page.is_fallback(obj)


CONTENT_FIELDS = [
    "status",
    "is_new",
    "is_fallback",
    "is_offline",
    "context_hash",
    "prompt_version",
    "model",
    "provider",
    "generated_at",
    "expires_at",
    "last_presented_at",
    "times_presented",
]


class RecommendationSerializer(ContentMixin, serializers.ModelSerializer):
    step = StepRefSerializer(read_only=True)
    per_read_fields = (
        *ContentMixin.per_read_fields,
        "step",
        "started_at",
        "completed_at",
        "user_feedback",
    )

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "step",
            "content",
            *CONTENT_FIELDS,
            "started_at",
            "completed_at",
            "user_feedback",
        ]
        read_only_fields = fields
        list_serializer_class = CachedRepresentationListSerializer


class RecommendationListQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False)


class FeedbackSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    helpful = serializers.BooleanField(required=False, allow_null=True, default=None)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class InsightSerializer(ContentMixin, serializers.ModelSerializer):
    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    # Insights of a whole domain have no step.
    step = StepRefSerializer(read_only=True, allow_null=True)
    per_read_fields = (*ContentMixin.per_read_fields, "domain", "step")

    class Meta:
        model = Insight
        fields = [
            "id",
            "domain",
            "step",
            "content",
            "author_profile",
            "relevance_score",
            *CONTENT_FIELDS,
        ]
        read_only_fields = fields
        list_serializer_class = CachedRepresentationListSerializer


class InsightPageSerializer(serializers.Serializer):
    """A numbered page of insights (the usual 200 body), for the 202's schema."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = InsightSerializer(many=True)


class InsightQuerySerializer(serializers.Serializer):
    """A domain (its id or slug) or a step (its id) of the company's journey, which
    the view has read already: checked against it, no query."""

    domain = serializers.CharField(required=False, max_length=80)
    step = serializers.IntegerField(required=False, min_value=1)

    def validate(self, attrs):
        journey = self.context["journey"]
        domain = step = None
        if "domain" in attrs:
            domain = selectors.domain_in(journey, attrs["domain"])
            if domain is None:
                raise serializers.ValidationError({"domain": "No such domain in the journey."})
        if "step" in attrs:
            step = selectors.step_in(journey, attrs["step"])
            if step is None:
                raise serializers.ValidationError({"step": "No such step in the journey."})
        if domain is not None and step is not None and step.domain_id != domain.pk:
            raise serializers.ValidationError({"step": "This step is not in that domain."})
        return {"domain": domain, "step": step}


class HealthSummarySerializer(ContentMixin, serializers.ModelSerializer):
    class Meta:
        model = HealthSummary
        fields = ["id", "content", *CONTENT_FIELDS]
        read_only_fields = fields
        list_serializer_class = CachedRepresentationListSerializer


class StepProgressInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=StepStatus.choices)


class StepProgressSerializer(serializers.ModelSerializer):
    step = StepRefSerializer(read_only=True)

    class Meta:
        model = CompanyStepProgress
        fields = ["step", "status", "started_at", "completed_at", "last_activity_at"]
        read_only_fields = fields


class JourneyStepSerializer(serializers.Serializer):
    """A step with the company's status on it (selectors.StepProgress)."""

    id = serializers.IntegerField(source="step.id", read_only=True)
    slug = serializers.SlugField(source="step.slug", read_only=True)
    name = serializers.CharField(source="step.name", read_only=True)
    order = serializers.IntegerField(source="step.order", read_only=True)
    status = serializers.ChoiceField(choices=StepStatus.choices, read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class JourneyDomainSerializer(serializers.Serializer):
    """A domain with the company's maturity and steps (selectors.DomainProgress)."""

    id = serializers.IntegerField(source="domain.id", read_only=True)
    slug = serializers.SlugField(source="domain.slug", read_only=True)
    name = serializers.CharField(source="domain.name", read_only=True)
    order = serializers.IntegerField(source="domain.order", read_only=True)
    maturity_level = serializers.IntegerField(source="maturity", read_only=True)
    completed_count = serializers.IntegerField(read_only=True)
    step_count = serializers.IntegerField(read_only=True)
    steps = JourneyStepSerializer(many=True, read_only=True)


class EffectivenessSerializer(serializers.ModelSerializer):
    recommendation = serializers.PrimaryKeyRelatedField(read_only=True)
    title = serializers.CharField(source="recommendation.title", read_only=True)
    step = StepRefSerializer(source="recommendation.step", read_only=True)

    class Meta:
        model = RecommendationEffectiveness
        fields = [
            "id",
            "recommendation",
            "title",
            "step",
            "was_started",
            "was_completed",
            "time_to_start",
            "time_to_complete",
            "created_at",
        ]
        read_only_fields = fields
