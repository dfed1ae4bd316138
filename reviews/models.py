"""Review runs: an idea expanded into a proposal, reviewed by personas, decided.

Every row belongs to a company (directly or through its run). Keys are UUIDs.
RunEvent is append-only: the audit trail, and what live clients follow.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviews.lifecycle import Decision, EventType, RunStatus, RunType


class Persona(models.Model):
    """A reviewer. Its system prompt is the generation Prompt `prompt_key` (versioned and
    curated in the admin like every prompt); `sections` are the proposal sections it reads,
    so a revision that leaves them alone does not ask it again."""

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    weight = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(0), MaxValueValidator(10)],
    )
    prompt_key = models.SlugField(max_length=100)
    sections = models.JSONField(default=list, help_text="Proposal sections this persona reads.")
    is_active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=0) & Q(weight__lte=10), name="persona_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="review_runs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    run_type = models.CharField(max_length=10, choices=RunType.choices, default=RunType.INITIAL)
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions"
    )
    input_idea = models.TextField()
    extra_context = models.JSONField(null=True, blank=True)
    # Who made the run's content (a cached artefact counts as made by whoever made
    # it): "offline" or "openai", and the models the provider named; comma-separated
    # when several did. What was asked for is in `parameters`.
    provider = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    temperature = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    # Expand and review models and temperatures, persona template versions, retry settings.
    parameters = models.JSONField(default=dict)
    overall_weighted_confidence = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True
    )
    decision_label = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    error = models.JSONField(null=True, blank=True)
    # Provider requests this run made (cache hits cost none).
    provider_calls = models.PositiveIntegerField(default=0)
    # The worker executing the run holds a lease it renews; an expired lease on a
    # running run means its worker died, and the run may be taken over.
    worker = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    recoveries = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="reviewrun_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(run_type__in=RunType.values), name="reviewrun_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(run_type=RunType.INITIAL, parent_run__isnull=True)
                | Q(run_type=RunType.REVISION, parent_run__isnull=False),
                name="reviewrun_revision_has_parent",
            ),
            models.UniqueConstraint(
                fields=["company", "created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="reviewrun_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="reviewrun_company_recent"),
            models.Index(fields=["status", "lease_expires_at"], name="reviewrun_lease"),
        ]

    def __str__(self) -> str:
        return f"run {self.id} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()


class ProposalVersion(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="proposal")
    expanded_proposal = models.JSONField()
    # Against the parent run's proposal (revisions only).
    proposal_diff = models.JSONField(null=True, blank=True)
    persona_template_version = models.CharField(max_length=500)
    edit_notes = models.TextField(blank=True)
    generation_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"proposal of {self.run_id}"


class PersonaReview(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="reviews")
    persona = models.ForeignKey(Persona, on_delete=models.PROTECT, related_name="reviews")
    persona_name = models.CharField(max_length=100)
    review = models.JSONField()
    confidence_score = models.DecimalField(max_digits=5, decimal_places=4)
    blocking_issues_present = models.BooleanField(default=False)
    security_concerns_present = models.BooleanField(default=False)
    # model, temperature, template version, attempt_count, source, generation id.
    prompt_parameters = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "persona__order", "persona__key"]
        constraints = [
            models.UniqueConstraint(fields=["run", "persona"], name="personareview_unique"),
            models.CheckConstraint(
                condition=Q(confidence_score__gte=0) & Q(confidence_score__lte=1),
                name="personareview_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.persona_name} on {self.run_id}"

    @property
    def attempt_count(self) -> int:
        return self.prompt_parameters.get("attempt_count", 0)


class Decision(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="decision")
    decision = models.JSONField()
    overall_weighted_confidence = models.DecimalField(max_digits=5, decimal_places=4)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"decision on {self.run_id}: {self.decision.get('label')}"


class RunEvent(models.Model):
    """Append-only: one row per state change of a run. Ids increase in commit order
    within a run's steps and are the SSE event ids."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=20, choices=EventType.choices)
    step = models.CharField(max_length=20, blank=True)
    persona_key = models.CharField(max_length=50, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=EventType.values), name="runevent_type_valid"
            ),
        ]
        indexes = [models.Index(fields=["run", "id"], name="runevent_run_id")]

    def __str__(self) -> str:
        return f"{self.type} #{self.id}"
