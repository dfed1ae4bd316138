"""The company journey, its context snapshots, and the AI content generated for it."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from recommendations.lifecycle import LIVE, Status, check_transition

MAX_MATURITY = 5


class JourneyDomain(models.Model):
    """A business area of the journey (strategy, operations, ...)."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class JourneyStep(models.Model):
    domain = models.ForeignKey(JourneyDomain, on_delete=models.CASCADE, related_name="steps")
    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["domain__order", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "slug"], name="journeystep_unique_slug"),
            models.UniqueConstraint(fields=["domain", "order"], name="journeystep_unique_order"),
        ]

    def __str__(self) -> str:
        return f"{self.domain.name}: {self.name}"

    @property
    def key(self) -> str:
        """The step's stable name in a company context: "domain-slug/step-slug"."""
        return f"{self.domain.slug}/{self.slug}"


class StepStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class CompanyStepProgress(models.Model):
    """Where a company stands on one step; last_activity_at is its latest change."""

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="step_progress"
    )
    step = models.ForeignKey(JourneyStep, on_delete=models.CASCADE, related_name="progress")
    status = models.CharField(
        max_length=12, choices=StepStatus.choices, default=StepStatus.NOT_STARTED
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "company step progress"
        constraints = [
            models.UniqueConstraint(fields=["company", "step"], name="stepprogress_unique"),
            models.CheckConstraint(
                condition=Q(status__in=StepStatus.values), name="stepprogress_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["company", "status"], name="stepprogress_company_status")]

    def __str__(self) -> str:
        return f"{self.company} / {self.step}: {self.status}"


class CompanyDomainProgress(models.Model):
    """A company's maturity level (0-5) in one domain, derived from its completed steps."""

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="domain_progress"
    )
    domain = models.ForeignKey(JourneyDomain, on_delete=models.CASCADE, related_name="progress")
    maturity_level = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_MATURITY)]
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "company domain progress"
        constraints = [
            models.UniqueConstraint(fields=["company", "domain"], name="domainprogress_unique"),
            models.CheckConstraint(
                condition=Q(maturity_level__lte=MAX_MATURITY), name="domainprogress_level_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} / {self.domain}: level {self.maturity_level}"


class ContextSnapshot(models.Model):
    """A company's context (what it has done) and its hash; exactly one is current."""

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="context_snapshots"
    )
    context_hash = models.CharField(max_length=64)
    context_data = models.JSONField()
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "context_hash"], name="snapshot_unique_hash"
            ),
            models.UniqueConstraint(
                fields=["company"], condition=Q(is_current=True), name="snapshot_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.context_hash[:10]}{' (current)' if self.is_current else ''}"


class GeneratedContent(models.Model):
    """What every AI artefact row carries: where it came from, its lifecycle, its use."""

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    # The company context hash when it was generated (not the generation key).
    context_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.FRESH)
    generation = models.ForeignKey(
        "generation.Generation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompt = models.ForeignKey(
        "generation.Prompt", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompt_version = models.PositiveIntegerField(null=True, blank=True)
    model = models.CharField(max_length=100)
    provider = models.CharField(max_length=30, blank=True)
    generated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    stale_at = models.DateTimeField(null=True, blank=True)
    last_presented_at = models.DateTimeField(null=True, blank=True)
    times_presented = models.PositiveIntegerField(default=0)
    # Raised by every edit of the stored content (services.edit_content): cached
    # representations are keyed by it.
    revision = models.PositiveIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        abstract = True

    @property
    def is_offline(self) -> bool:
        return self.provider == "offline"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE

    def transition_to(self, status: str) -> None:
        """Apply one edge of the lifecycle table (raises IllegalTransition) and save it."""
        check_transition(self.status, status)
        self.status = status
        fields = ["status"]
        if status == Status.STALE:
            self.stale_at = timezone.now()
            fields.append("stale_at")
        self.save(update_fields=fields)


def _status_check(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(status__in=Status.values), name=name)


class Recommendation(GeneratedContent):
    """One recommended next step for a company in one context."""

    step = models.ForeignKey(
        JourneyStep,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recommendations",
    )
    content = models.JSONField()
    user_feedback = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-generated_at", "-id"]
        constraints = [
            _status_check("recommendation_status_valid"),
            # One live-or-completed recommendation per step and context; stale ones are
            # history and may sit beside their replacement.
            models.UniqueConstraint(
                fields=["company", "step", "context_hash"],
                condition=~Q(status=Status.STALE),
                name="recommendation_one_per_step_context",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "status"], name="rec_company_status"),
            models.Index(fields=["context_hash"], name="rec_context_hash"),
            models.Index(fields=["expires_at"], name="rec_expires_at"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return str((self.content or {}).get("title", f"Recommendation {self.pk}"))

    @classmethod
    def context_bound(cls) -> Q:
        """Rows that a context change makes stale: a recommendation someone has
        started stays until it is completed or ages out."""
        return Q(status=Status.FRESH) | Q(
            status__in=[Status.ACTIVE, Status.REGENERATING], started_at__isnull=True
        )


class Insight(GeneratedContent):
    """A peer insight for a domain or a step, with a relevance score of 0.5-1.0."""

    domain = models.ForeignKey(
        JourneyDomain, null=True, blank=True, on_delete=models.SET_NULL, related_name="insights"
    )
    step = models.ForeignKey(
        JourneyStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="insights"
    )
    content = models.TextField()
    author_profile = models.JSONField()
    relevance_score = models.FloatField(validators=[MinValueValidator(0.5), MaxValueValidator(1.0)])

    class Meta:
        ordering = ["-relevance_score", "-id"]
        constraints = [
            _status_check("insight_status_valid"),
            models.CheckConstraint(
                condition=Q(relevance_score__gte=0.5, relevance_score__lte=1.0),
                name="insight_relevance_range",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "context_hash"], name="insight_company_context"),
            models.Index(fields=["company", "domain"], name="insight_company_domain"),
            models.Index(fields=["company", "step"], name="insight_company_step"),
            models.Index(fields=["relevance_score"], name="insight_relevance"),
            models.Index(fields=["expires_at"], name="insight_expires_at"),
        ]

    def __str__(self) -> str:
        return self.content[:60]

    @classmethod
    def context_bound(cls) -> Q:
        return Q(status__in=LIVE)


class HealthSummary(GeneratedContent):
    """The business health analysis of a company in one context."""

    content = models.JSONField()

    class Meta:
        ordering = ["-generated_at", "-id"]
        verbose_name_plural = "health summaries"
        constraints = [
            _status_check("healthsummary_status_valid"),
            models.UniqueConstraint(
                fields=["company", "context_hash"],
                condition=~Q(status=Status.STALE),
                name="healthsummary_one_per_context",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "status"], name="health_company_status"),
            models.Index(fields=["generated_at"], name="health_generated_at"),
            models.Index(fields=["expires_at"], name="health_expires_at"),
        ]

    def __str__(self) -> str:
        return f"Health of {self.company_id} ({self.context_hash[:10]})"

    @classmethod
    def context_bound(cls) -> Q:
        return Q(status__in=LIVE)


class RecommendationEffectiveness(models.Model):
    """Whether a recommendation was acted on, and how long that took."""

    recommendation = models.OneToOneField(
        Recommendation, on_delete=models.CASCADE, related_name="effectiveness"
    )
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    was_started = models.BooleanField(default=False)
    was_completed = models.BooleanField(default=False)
    # Measured from the recommendation's generated_at.
    time_to_start = models.DurationField(null=True, blank=True)
    time_to_complete = models.DurationField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["company", "-created_at", "-id"], name="effectiveness_company_new"
            ),
        ]
        verbose_name_plural = "recommendation effectiveness"

    def __str__(self) -> str:
        return f"effectiveness of recommendation {self.recommendation_id}"
