from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from deliverables import services
from deliverables.models import (
    Deliverable,
    DisplayFormat,
    TransformationStatus,
    Workspace,
    source_hash,
)
from generation.rendering import clean_html, render_markdown


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "created_at"]
    list_filter = ["company"]
    list_select_related = ["company"]
    search_fields = ["name"]


@admin.register(Deliverable)
class DeliverableAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "workspace",
        "status",
        "content_transformation_status",
        "display_format",
        "display_prompt",
        "display_quality_score",
        "transformation_timestamp",
    ]
    list_filter = [
        "status",
        "content_transformation_status",
        ("display_prompt", admin.RelatedOnlyFieldListFilter),
        "workspace__company",
    ]
    list_select_related = ["workspace", "workspace__company", "display_prompt"]
    search_fields = ["title"]
    actions = ["retransform", "clear_display"]
    readonly_fields = [
        "content_hash",
        "display_source_hash",
        "display_preview",
        "display_content",
        "display_format",
        "display_prompt",
        "transformation_timestamp",
        "content_transformation_status",
        "display_quality_score",
        "ai_confidence",
        "auto_display_generated",
        "transform_lease_expires_at",
        "created_at",
        "updated_at",
    ]
    fields = ["workspace", "title", "status", "content", *readonly_fields]

    @admin.display(description="Display preview")
    def display_preview(self, obj: Deliverable) -> str:
        if not obj.display_content:
            return "-"
        if obj.display_format == DisplayFormat.MARKDOWN:
            html = render_markdown(obj.display_content)
        else:
            html = clean_html(obj.display_content)
        # Cleaned by nh3 just above: the only markup that reaches the page.
        return format_html('<div style="max-width:60rem">{}</div>', mark_safe(html))

    def save_model(self, request, obj, form, change) -> None:
        # A new title or raw content makes the display stale, as in
        # services.update_deliverable.
        if (
            change
            and obj.content_transformation_status == TransformationStatus.SUCCESS
            and source_hash(title=obj.title, content=obj.content) != obj.display_source_hash
        ):
            obj.content_transformation_status = TransformationStatus.STALE
        super().save_model(request, obj, form, change)

    @admin.action(description="Re-transform the display (queued)")
    def retransform(self, request, queryset) -> None:
        queued = services.queue_transforms(
            deliverable_ids=list(queryset.values_list("pk", flat=True)), force=True
        )
        self.message_user(request, f"{len(queued)} re-transform task(s) queued.", messages.SUCCESS)

    @admin.action(description="Clear the display")
    def clear_display(self, request, queryset) -> None:
        cleared = services.clear_display(
            deliverable_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(request, f"{cleared} display(s) cleared.", messages.SUCCESS)
