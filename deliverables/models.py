from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from generation.hashing import sha256_of


class Workspace(models.Model):
    """A company's project space; its deliverables are listed together."""

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="workspaces"
    )
    name = models.CharField(max_length=200)
    goal = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DeliverableStatus(models.TextChoices):
    """The deliverable's own progress. Only completed deliverables get a display."""

    DRAFT = "draft", "Draft"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class TransformationStatus(models.TextChoices):
    """Where the display version of a deliverable stands (content_transformation_status)."""

    NONE = "none", "Not transformed"
    PENDING = "pending", "Pending"  # queued, or being transformed
    SUCCESS = "success", "Success"  # display made from the current content
    STALE = "stale", "Stale"  # display made from older content
    FAILED = "failed", "Failed"


class DisplayFormat(models.TextChoices):
    HTML = "html", "HTML"
    MARKDOWN = "markdown", "Markdown"


def source_hash(*, title: str, content) -> str:
    """The hash of what a display is made from: the title and the raw content."""
    return sha256_of({"title": title, "content": content})


class Deliverable(models.Model):
    """A piece of work with its raw content and a cached, AI-made display version.

    `content_hash` is the hash of what the display is made from (the title and
    the content: both are in the prompt), kept by save() and the services;
    `display_source_hash` is that hash when the display was made, and
    `display_prompt` the prompt version that made it. The display is current when
    the hashes are equal (a DB constraint holds "success" to that) and its prompt
    version is the active one.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="deliverables")
    title = models.CharField(max_length=300)
    status = models.CharField(
        max_length=20, choices=DeliverableStatus.choices, default=DeliverableStatus.DRAFT
    )
    content = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, editable=False)

    display_content = models.TextField(blank=True)
    display_format = models.CharField(
        max_length=20, choices=DisplayFormat.choices, default=DisplayFormat.HTML
    )
    transformation_timestamp = models.DateTimeField(null=True, blank=True)
    content_transformation_status = models.CharField(
        max_length=20, choices=TransformationStatus.choices, default=TransformationStatus.NONE
    )
    display_quality_score = models.FloatField(null=True, blank=True)
    ai_confidence = models.FloatField(null=True, blank=True)
    auto_display_generated = models.BooleanField(default=False)
    display_source_hash = models.CharField(max_length=64, blank=True)
    display_prompt = models.ForeignKey(
        "generation.Prompt",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        help_text="The prompt version that made the display.",
    )
    # The claim of a queued transform (services.queue.TRANSFORM_LEASE): the
    # deliverable is not queued again before this time, and past it a lost task no
    # longer blocks it.
    transform_lease_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["workspace", "id"], name="deliverable_workspace_list"),
            models.Index(
                fields=["content_transformation_status"], name="deliverable_transform_status"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliverableStatus.values), name="deliverable_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(content_transformation_status__in=TransformationStatus.values),
                name="deliverable_transform_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(display_format__in=DisplayFormat.values),
                name="deliverable_display_format_valid",
            ),
            models.CheckConstraint(
                condition=~Q(content_transformation_status=TransformationStatus.SUCCESS)
                | (~Q(display_content="") & Q(display_source_hash=F("content_hash"))),
                name="deliverable_success_is_current",
            ),
            models.CheckConstraint(
                condition=~Q(content_transformation_status=TransformationStatus.NONE)
                | Q(display_content=""),
                name="deliverable_none_has_no_display",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.content_hash = source_hash(title=self.title, content=self.content)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"content", "title"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "content_hash"}
        super().save(*args, **kwargs)

    @property
    def display_is_current(self) -> bool:
        return bool(self.display_content) and self.display_source_hash == self.content_hash
