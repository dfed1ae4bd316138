from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from generation.models import Generation, GenerationStatus
from generation.public import public_message
from generation.selectors import DEFAULT_DAYS, MAX_DAYS
from generation.streams import expected_chars, progress


class GenerationSerializer(serializers.ModelSerializer):
    """The whole state of a generation at any moment: while it streams, `text` is the
    text so far and `progress` estimates how far along it is."""

    content = serializers.JSONField(read_only=True)
    progress = serializers.SerializerMethodField(
        help_text="0-100: 100 when completed; while streaming, the text so far against "
        "the mean length of recent generations of the same kind (at most 99)."
    )
    events_url = serializers.SerializerMethodField(
        help_text="Server-Sent Events: the chunks as they land, then done or failed."
    )
    error = serializers.SerializerMethodField(
        help_text="Why the generation failed, in one plain sentence; blank otherwise."
    )

    def get_error(self, generation: Generation) -> str:
        # The provider's own words stay in the log and the admin.
        if not (generation.error or generation.error_code):
            return ""
        return public_message(generation.error_code)

    def get_progress(self, generation: Generation) -> int:
        streaming = generation.status == GenerationStatus.STREAMING
        expected = expected_chars(kind=generation.kind) if streaming else 0
        return progress(generation=generation, expected=expected)

    def get_events_url(self, generation: Generation) -> str:
        return reverse("generation-events", args=[generation.pk])

    class Meta:
        model = Generation
        fields = [
            "id",
            "kind",
            "scope",
            "context_hash",
            "status",
            "provider",
            "model",
            "attempts",
            "progress",
            "text",
            "result",
            "content",
            "error",
            "created_at",
            "updated_at",
            "completed_at",
            "expires_at",
            "events_url",
        ]
        read_only_fields = fields


# The days a report may name. Outside them a day's bounds (and the default period
# before it) would leave the calendar Python and the database handle: a 400, not a 500.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)


class DayField(serializers.DateField):
    """A day (YYYY-MM-DD) within FIRST_DAY..LAST_DAY."""

    default_error_messages = {
        "out_of_range": f"Days from {FIRST_DAY} to {LAST_DAY} are supported.",
    }

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not FIRST_DAY <= day <= LAST_DAY:
            self.fail("out_of_range")
        return day


class PeriodQuerySerializer(serializers.Serializer):
    """A period of days, the last DEFAULT_DAYS by default: since <= until, until at most
    tomorrow, at most MAX_DAYS long. Every report by day (usage, review metrics) reads
    its period with it, so they accept and refuse the same periods."""

    since = DayField(required=False, help_text="First day (YYYY-MM-DD).")
    until = DayField(required=False, help_text="Last day (YYYY-MM-DD); today.")

    def validate(self, attrs: dict) -> dict:
        until = attrs.get("until") or timezone.localdate()
        since = attrs.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise serializers.ValidationError({"since": "since must not be after until."})
        if until > timezone.localdate() + timedelta(days=1):
            raise serializers.ValidationError({"until": "until may be tomorrow at the latest."})
        if (until - since).days + 1 > MAX_DAYS:
            raise serializers.ValidationError(
                {"since": f"The period may cover at most {MAX_DAYS} days."}
            )
        return {**attrs, "since": since, "until": until}


class UsageQuerySerializer(PeriodQuerySerializer):
    """The period and filters of a usage report."""

    company = serializers.IntegerField(
        required=False, min_value=1, help_text="One of your companies; all of them by default."
    )
    kind = serializers.CharField(required=False, max_length=50, help_text="e.g. recommendation")


class UsageFiguresSerializer(serializers.Serializer):
    provider_calls = serializers.IntegerField(
        help_text="Provider requests made (retries count). Calls still in flight are "
        "counted once they end; a call whose caller died counts with outcome unknown."
    )
    generations = serializers.IntegerField(help_text="Artefacts for which a provider was asked.")
    cache_hits = serializers.IntegerField()
    calls_saved = serializers.IntegerField(help_text="Provider calls not made: the cache hits.")
    fallback_reads = serializers.IntegerField(
        help_text="Reads that served earlier content because the current one could not be made."
    )
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    cost = serializers.DecimalField(
        max_digits=16,
        decimal_places=6,
        help_text="USD; cached input tokens at their own rate, a call of unknown outcome "
        "at its estimated input cost.",
    )
    success_rate = serializers.FloatField(
        allow_null=True, help_text="Successful generations / generations; null when none."
    )
    mean_latency_ms = serializers.FloatField(allow_null=True)
    budget_exceeded = serializers.IntegerField(help_text="Requests refused by the daily budget.")
    providers = serializers.ListField(child=serializers.CharField(), help_text='e.g. ["offline"]')


class UsageRowSerializer(UsageFiguresSerializer):
    day = serializers.DateField()
    kind = serializers.CharField()
    company = serializers.IntegerField()
    company_name = serializers.CharField()


class UsageSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    rows = UsageRowSerializer(many=True)
    totals = UsageFiguresSerializer()
    sections = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Figures other apps add, by name (reviews: runs, failure rate, duration "
        "p50/p95 and provider calls per run, per day and in total; over all your companies).",
    )
