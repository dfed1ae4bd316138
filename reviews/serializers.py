from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import BIGINT_MAX
from generation.serializers import PeriodQuerySerializer
from reviews.errors import public_error
from reviews.lifecycle import RunStatus, RunType
from reviews.models import Decision, PersonaReview, ProposalVersion, Run

MAX_IDEA = 10_000


class RunCreateSerializer(serializers.Serializer):
    idea = serializers.CharField(max_length=MAX_IDEA, trim_whitespace=True)
    extra_context = serializers.JSONField(required=False, allow_null=True, default=None)
    company = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=BIGINT_MAX,
        help_text="Needed only when you belong to several companies.",
    )

    def validate_extra_context(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class RevisionCreateSerializer(serializers.Serializer):
    edit_notes = serializers.CharField(max_length=MAX_IDEA)
    idea = serializers.CharField(max_length=MAX_IDEA, required=False)
    extra_context = serializers.JSONField(required=False, allow_null=True, default=None)

    def validate_extra_context(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class RunQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RunStatus.choices, required=False)
    run_type = serializers.ChoiceField(choices=RunType.choices, required=False)


class WaitQuerySerializer(serializers.Serializer):
    wait = serializers.FloatField(
        required=False,
        min_value=0,
        help_text="Seconds to wait for the run to finish (at most REVIEWS_MAX_WAIT_SECONDS).",
    )


class MetricsQuerySerializer(PeriodQuerySerializer):
    """The period of the metrics: the same days and limits as the usage report."""


class ProposalSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProposalVersion
        fields = [
            "id",
            "expanded_proposal",
            "proposal_diff",
            "persona_template_version",
            "edit_notes",
            "created_at",
        ]


class PersonaReviewSerializer(serializers.ModelSerializer):
    persona = serializers.CharField(source="persona.key")
    attempt_count = serializers.IntegerField()

    class Meta:
        model = PersonaReview
        fields = [
            "id",
            "persona",
            "persona_name",
            "review",
            "confidence_score",
            "blocking_issues_present",
            "security_concerns_present",
            "attempt_count",
            "prompt_parameters",
            "created_at",
        ]


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = ["id", "decision", "overall_weighted_confidence", "notes", "created_at"]


class RunSummarySerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "url",
            "status",
            "run_type",
            "parent_run",
            "input_idea",
            "decision_label",
            "overall_weighted_confidence",
            "provider_calls",
            "created_at",
            "finished_at",
        ]

    def get_url(self, run) -> str:
        return reverse("review-run-detail", args=[run.pk])


class RunSerializer(RunSummarySerializer):
    """The whole state of a run at any moment, partial results included."""

    events_url = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField(
        help_text="Why the run failed: step, persona, code, message, attempt_count."
    )
    proposal = serializers.SerializerMethodField()
    reviews = PersonaReviewSerializer(many=True, read_only=True)
    decision = serializers.SerializerMethodField()

    class Meta(RunSummarySerializer.Meta):
        fields = [
            *RunSummarySerializer.Meta.fields,
            "events_url",
            "extra_context",
            "provider",
            "model",
            "temperature",
            "parameters",
            "error",
            "proposal",
            "reviews",
            "decision",
            "updated_at",
        ]

    def get_events_url(self, run) -> str:
        return reverse("review-run-events", args=[run.pk])

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_error(self, run) -> dict | None:
        # The provider's own error text stays in the admin and the log.
        return public_error(run.error) if run.error else None

    @extend_schema_field(ProposalSerializer(allow_null=True))
    def get_proposal(self, run) -> dict | None:
        proposal = getattr(run, "proposal", None) if _has(run, "proposal") else None
        return ProposalSerializer(proposal).data if proposal else None

    @extend_schema_field(DecisionSerializer(allow_null=True))
    def get_decision(self, run) -> dict | None:
        decision = getattr(run, "decision", None) if _has(run, "decision") else None
        return DecisionSerializer(decision).data if decision else None


def _has(run, name: str) -> bool:
    try:
        getattr(run, name)
    except Run._meta.get_field(name).related_model.DoesNotExist:
        return False
    return True
