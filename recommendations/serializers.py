from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import PreparedPrimaryKeyRelatedField, iso_datetime
from core.prepared import PreparedQuery
from recommendations.lifecycle import Status
from recommendations.models import (
    CompanyStepProgress,
    HealthSummary,
    Insight,
    JourneyDomain,
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


class ContentMixin(serializers.Serializer):
    """Provenance and lifecycle fields shared by the three kinds of content."""

    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    is_new = serializers.SerializerMethodField(help_text="First time this was shown.")
    is_fallback = serializers.SerializerMethodField(
        help_text=(
            "Earlier content (another company context, or served because the current "
            "content could not be made)."
        )
    )
    is_offline = serializers.BooleanField(read_only=True)

    def get_is_new(self, obj) -> bool:
        return bool(getattr(obj, "was_fresh", False))

    def content_fields(self, obj) -> dict[str, Any]:
        """CONTENT_FIELDS of `obj`, as DRF's fields would render them.

        The content serializers write their representation out by hand: they are
        the hot reads, and DRF's ModelSerializer builds its fields for every
        serializer it makes (~0.2 ms for one row). The declared fields stay the
        schema; tests/recommendations/test_serializers.py holds the two equal.
        """
        return {
            "status": obj.status,
            "is_new": bool(getattr(obj, "was_fresh", False)),
            "is_fallback": self.get_is_fallback(obj),
            "is_offline": obj.is_offline,
            "context_hash": obj.context_hash,
            "prompt_version": obj.prompt_version,
            "model": obj.model,
            "provider": obj.provider,
            "generated_at": iso_datetime(obj.generated_at),
            "expires_at": iso_datetime(obj.expires_at),
            "last_presented_at": iso_datetime(obj.last_presented_at),
            "times_presented": obj.times_presented,
        }

    def get_is_fallback(self, obj) -> bool:
        if getattr(obj, "served_as_fallback", False):
            return True  # served because the current content could not be made
        current = self.context.get("context_hash")
        return bool(current) and obj.context_hash != current


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


def step_ref(step: JourneyStep | None) -> dict[str, Any] | None:
    """StepRefSerializer's representation, written out (see ContentMixin.content_fields)."""
    if step is None:
        return None
    return {"id": step.id, "slug": step.slug, "name": step.name, "domain": step.domain.slug}


class RecommendationSerializer(ContentMixin, serializers.ModelSerializer):
    step = StepRefSerializer(read_only=True)

    def to_representation(self, obj: Recommendation) -> dict[str, Any]:
        return {
            "id": obj.id,
            "step": step_ref(obj.step),
            "content": obj.content,
            **self.content_fields(obj),
            "started_at": iso_datetime(obj.started_at),
            "completed_at": iso_datetime(obj.completed_at),
            "user_feedback": obj.user_feedback,
        }

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

    def to_representation(self, obj: Insight) -> dict[str, Any]:
        return {
            "id": obj.id,
            "domain": obj.domain.slug if obj.domain_id is not None else None,
            "step": step_ref(obj.step),
            "content": obj.content,
            "author_profile": obj.author_profile,
            "relevance_score": obj.relevance_score,
            **self.content_fields(obj),
        }

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


_DOMAIN = PreparedQuery(lambda pk: JourneyDomain.objects.filter(pk=pk)[:1], pk=int)
_STEP = PreparedQuery(
    lambda pk: JourneyStep.objects.select_related("domain").filter(pk=pk)[:1], pk=int
)


class InsightQuerySerializer(serializers.Serializer):
    domain = PreparedPrimaryKeyRelatedField(
        lookup=_DOMAIN, queryset=JourneyDomain.objects.all(), required=False
    )
    step = PreparedPrimaryKeyRelatedField(
        lookup=_STEP, queryset=JourneyStep.objects.all(), required=False
    )

    def validate(self, attrs):
        domain, step = attrs.get("domain"), attrs.get("step")
        if domain is not None and step is not None and step.domain_id != domain.pk:
            raise serializers.ValidationError({"step": "This step is not in that domain."})
        return attrs


class HealthSummarySerializer(ContentMixin, serializers.ModelSerializer):
    def to_representation(self, obj: HealthSummary) -> dict[str, Any]:
        return {"id": obj.id, "content": obj.content, **self.content_fields(obj)}

    class Meta:
        model = HealthSummary
        fields = ["id", "content", *CONTENT_FIELDS]
        read_only_fields = fields


class StepProgressInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=StepStatus.choices)


class StepProgressSerializer(serializers.ModelSerializer):
    step = StepRefSerializer(read_only=True)

    class Meta:
        model = CompanyStepProgress
        fields = ["step", "status", "started_at", "completed_at", "last_activity_at"]
        read_only_fields = fields


# One datetime format in every response: DRF's (UTC written as "Z").
_DATETIME = serializers.DateTimeField()


class JourneyStepSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    started_at = serializers.SerializerMethodField()
    completed_at = serializers.SerializerMethodField()

    class Meta:
        model = JourneyStep
        fields = ["id", "slug", "name", "order", "status", "started_at", "completed_at"]
        read_only_fields = fields

    def to_representation(self, obj: JourneyStep) -> dict[str, Any]:
        # Written out like the content serializers (ContentMixin.content_fields).
        progress = obj.company_progress
        return {
            "id": obj.id,
            "slug": obj.slug,
            "name": obj.name,
            "order": obj.order,
            "status": progress.status if progress else StepStatus.NOT_STARTED,
            "started_at": iso_datetime(progress.started_at) if progress else None,
            "completed_at": iso_datetime(progress.completed_at) if progress else None,
        }

    def get_status(self, obj) -> str:
        progress = obj.company_progress
        return progress.status if progress else StepStatus.NOT_STARTED

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_started_at(self, obj) -> str | None:
        progress = obj.company_progress
        started = progress.started_at if progress else None
        return _DATETIME.to_representation(started) if started else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_completed_at(self, obj) -> str | None:
        progress = obj.company_progress
        completed = progress.completed_at if progress else None
        return _DATETIME.to_representation(completed) if completed else None


class JourneyDomainSerializer(serializers.ModelSerializer):
    maturity_level = serializers.IntegerField(source="company_maturity", read_only=True)
    completed_count = serializers.IntegerField(read_only=True)
    step_count = serializers.IntegerField(read_only=True)
    steps = JourneyStepSerializer(source="journey_steps", many=True, read_only=True)

    def to_representation(self, obj: JourneyDomain) -> dict[str, Any]:
        step = JourneyStepSerializer()
        return {
            "id": obj.id,
            "slug": obj.slug,
            "name": obj.name,
            "order": obj.order,
            "maturity_level": obj.company_maturity,
            "completed_count": obj.completed_count,
            "step_count": obj.step_count,
            "steps": [step.to_representation(s) for s in obj.journey_steps],
        }

    class Meta:
        model = JourneyDomain
        fields = [
            "id",
            "slug",
            "name",
            "order",
            "maturity_level",
            "completed_count",
            "step_count",
            "steps",
        ]
        read_only_fields = fields


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
