import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone


class Prompt(models.Model):
    """One version of a prompt. A version that has been used never changes:
    edits are new versions, so a context_hash always names exactly one text."""

    key = models.SlugField(max_length=100)
    version = models.PositiveIntegerField()
    instructions = models.TextField(blank=True, help_text="System / developer instructions.")
    template = models.TextField(help_text="Django template rendered with the inputs.")
    model = models.CharField(
        max_length=100, blank=True, help_text="Blank means the OPENAI_MODEL setting."
    )
    temperature = models.FloatField(null=True, blank=True)
    output_schema = models.CharField(
        max_length=100, blank=True, help_text="Name of a registered pydantic schema; blank: text."
    )
    is_active = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    CONTENT_FIELDS = ("key", "version", "instructions", "template", "model", "temperature")
    CONTENT_FIELDS += ("output_schema",)

    class Meta:
        ordering = ["key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="prompt_unique_version"),
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(is_active=True), name="prompt_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"

    def save(self, *args, **kwargs) -> None:
        if self.pk:
            before = Prompt.objects.filter(pk=self.pk).values(*self.CONTENT_FIELDS).first()
            changed = before and any(before[f] != getattr(self, f) for f in self.CONTENT_FIELDS)
            if changed and self.is_used():
                raise ValidationError(
                    f"{self} has been used; create a new version instead of editing it."
                )
        super().save(*args, **kwargs)

    @property
    def template_hash(self) -> str:
        text = f"{self.instructions}\x00{self.template}"
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def effective_model(self) -> str:
        return self.model or settings.OPENAI_MODEL

    def is_used(self) -> bool:
        return self.generations.exists() or self.logs.exists()


class Outcome(models.TextChoices):
    # Written before the provider is asked; not an outcome yet (usage leaves it out).
    STARTED = "started"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    BUDGET_EXCEEDED = "budget_exceeded"
    INVALID_OUTPUT = "invalid_output"
    # Left `started` past its lease: the caller died before it could say how the call
    # ended. Its requests were sent and its estimated cost stands.
    UNKNOWN = "unknown"


class GenerationLog(models.Model):
    """The ledger: one row per call to produce an artefact (its retries are its
    attempts), what it cost and how it ended.

    The row is committed `started` before the first request and its `attempts` before
    each request, so a caller that dies mid-call leaves a row saying what was sent;
    the sweep closes it as `unknown` (generation/ledger.py).
    """

    kind = models.CharField(max_length=50)
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompt = models.ForeignKey(
        Prompt, null=True, blank=True, on_delete=models.SET_NULL, related_name="logs"
    )
    generation = models.ForeignKey(
        "Generation", null=True, blank=True, on_delete=models.SET_NULL, related_name="logs"
    )
    provider = models.CharField(max_length=30)
    model = models.CharField(max_length=100)
    tokens_in = models.PositiveIntegerField(default=0)
    # Of tokens_in, those the provider served from its prompt cache (a cheaper rate).
    tokens_cached = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    # The rendered prompt's size in tokens, estimated before the call: what an
    # `unknown` row is charged for.
    tokens_in_estimated = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    # Provider requests made; 0 when nothing was sent (budget spent).
    attempts = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error = models.TextField(blank=True)
    raw_output = models.TextField(blank=True, help_text="Kept for invalid_output only.")
    # Who asked, when the caller says (e.g. "review-run:<id>"): its calls are summed
    # from here, dead workers' calls included.
    origin = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "created_at"], name="genlog_company_day"),
            models.Index(fields=["kind", "created_at"], name="genlog_kind_day"),
            models.Index(fields=["origin"], condition=~models.Q(origin=""), name="genlog_origin"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(outcome="started"),
                name="genlog_started",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=Outcome.values), name="genlog_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} {self.created_at:%Y-%m-%d %H:%M}"


class GenerationStatus(models.TextChoices):
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETED = "completed"
    FAILED = "failed"


# A claim is "live" in these states: its owner holds a lease on it.
IN_PROGRESS = (GenerationStatus.PENDING, GenerationStatus.STREAMING)


class Generation(models.Model):
    """The claim on, and then the record of, one artefact: (kind, scope, context_hash)."""

    kind = models.CharField(max_length=50)
    scope = models.CharField(max_length=200, help_text='e.g. "company:12" or "deliverable:7".')
    context_hash = models.CharField(max_length=64)
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    prompt = models.ForeignKey(
        Prompt, null=True, blank=True, on_delete=models.PROTECT, related_name="generations"
    )
    provider = models.CharField(max_length=30, blank=True)
    model = models.CharField(max_length=100, blank=True)
    # Everything needed to run the generation again without the caller.
    inputs = models.JSONField(default=dict)
    stream = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=GenerationStatus.choices, default=GenerationStatus.PENDING
    )
    owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Chunks of the current stream attempt have seq >= this; a reader that saw
    # an earlier seq has seen text of an attempt that was thrown away (reset).
    stream_start_seq = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    text = models.TextField(blank=True)
    # The provider's or the system's own words: for the log and the admin only.
    error = models.TextField(blank=True)
    # What kind of failure, for the sentence company users see (generation/public.py).
    error_code = models.CharField(max_length=30, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Kept so a background refresh gives the new content the same lifetime.
    ttl = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "scope", "context_hash"], name="generation_unique_key"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=GenerationStatus.values),
                name="generation_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "scope", "-completed_at"], name="generation_last_good"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope} {self.context_hash[:10]} ({self.status})"

    @property
    def content(self):
        """The structured result, or the text for a text generation."""
        return self.result if self.result is not None else self.text


class Chunk(models.Model):
    """An ordered piece of a streamed generation; the database is the source of truth."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["generation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "seq"], name="chunk_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.seq} of generation {self.generation_id}"


class HitCounter(models.Model):
    """Cache hits per day, kind and company: one row per key, incremented by the
    write-behind flush of generation/hits.py with INSERT ... ON CONFLICT DO UPDATE.

    The key is unique with the company's NULL as one value: an expression index on
    COALESCE(company_id, 0) does that on PostgreSQL and SQLite alike (a
    NULLS NOT DISTINCT constraint would exist on PostgreSQL only).
    """

    day = models.DateField()
    kind = models.CharField(max_length=50)
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    hits = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.F("day"),
                models.F("kind"),
                Coalesce("company", models.Value(0)),
                name="hitcounter_unique_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.hits} hits"
