from django.contrib import admin, messages

from recommendations import services
from recommendations.models import (
    CompanyDomainProgress,
    CompanyStepProgress,
    ContextSnapshot,
    HealthSummary,
    Insight,
    JourneyDomain,
    JourneyStep,
    Recommendation,
    RecommendationEffectiveness,
)


class JourneyDefinitionAdmin(admin.ModelAdmin):
    """Edits of the journey's definition change every company's reads (the journey
    each one shows): services.journey_changed, in the admin's own transaction."""

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        services.journey_changed()

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        services.journey_changed()

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        services.journey_changed()

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        services.journey_changed()


class JourneyStepInline(admin.TabularInline):
    model = JourneyStep
    extra = 0
    fields = ["order", "slug", "name", "description"]


@admin.register(JourneyDomain)
class JourneyDomainAdmin(JourneyDefinitionAdmin):
    list_display = ["name", "slug", "order"]
    inlines = [JourneyStepInline]


@admin.register(JourneyStep)
class JourneyStepAdmin(JourneyDefinitionAdmin):
    list_display = ["name", "domain", "order"]
    list_filter = ["domain"]
    list_select_related = ["domain"]


@admin.register(CompanyStepProgress)
class CompanyStepProgressAdmin(admin.ModelAdmin):
    list_display = ["company", "step", "status", "started_at", "completed_at", "last_activity_at"]
    list_filter = ["company", "status", "step__domain"]
    list_select_related = ["company", "step__domain"]
    # Progress changes go through services.update_step_progress (it refreshes the context).
    readonly_fields = ["company", "step", "status", "started_at", "completed_at"]


@admin.register(CompanyDomainProgress)
class CompanyDomainProgressAdmin(admin.ModelAdmin):
    list_display = ["company", "domain", "maturity_level", "updated_at"]
    list_filter = ["company", "domain"]
    list_select_related = ["company", "domain"]
    readonly_fields = ["company", "domain", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False  # made by the step progress service

    def save_model(self, request, obj, form, change) -> None:
        # A new level changes the company context: through the service, which refreshes
        # it and stales the content of the old context.
        services.set_domain_maturity(
            company=obj.company, domain=obj.domain, level=obj.maturity_level
        )


@admin.register(ContextSnapshot)
class ContextSnapshotAdmin(admin.ModelAdmin):
    list_display = ["company", "short_hash", "is_current", "created_at"]
    list_filter = ["company", "is_current"]
    list_select_related = ["company"]
    readonly_fields = ["company", "context_hash", "context_data", "is_current", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # snapshots are made by the context service only

    @admin.display(description="context hash")
    def short_hash(self, obj) -> str:
        return obj.context_hash[:12]


@admin.action(description="Mark stale")
def mark_stale(modeladmin, request, queryset):
    changed = services.mark_stale(rows=list(queryset))
    modeladmin.message_user(request, f"{changed} row(s) marked stale.")


@admin.action(description="Regenerate (ask the model again, in the background)")
def regenerate(modeladmin, request, queryset):
    queued, staled = services.regenerate(rows=list(queryset))
    modeladmin.message_user(
        request,
        f"{queued} regeneration(s) queued; the rows keep serving until their new "
        "content is written.",
    )
    if staled:
        modeladmin.message_user(
            request,
            f"{staled} row(s) had no stored artefact and were marked stale: the next "
            "read makes them.",
            level=messages.WARNING,
        )


class ContentAdmin(admin.ModelAdmin):
    """Shared by the three kinds of content; the kind is the model (one admin each)."""

    actions = [mark_stale, regenerate]
    list_filter = ["company", "status", "provider", "model"]
    list_select_related = ["company"]
    date_hierarchy = "generated_at"
    readonly_fields = [
        "company",
        "context_hash",
        "generation",
        "prompt",
        "prompt_version",
        "model",
        "provider",
        "generated_at",
        "expires_at",
        "stale_at",
        "last_presented_at",
        "times_presented",
    ]
    # Status changes go through the lifecycle (actions), never a free form field.
    exclude = ["status"]
    content_columns = ["status", "times_presented", "generated_at", "expires_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        # Through the service: it raises the row's revision, so cached representations
        # of the old content are never served again.
        if form.changed_data:
            services.edit_content(
                row=obj, fields={name: form.cleaned_data[name] for name in form.changed_data}
            )


@admin.register(Recommendation)
class RecommendationAdmin(ContentAdmin):
    list_display = ["__str__", "company", "step", *ContentAdmin.content_columns, "started_at"]
    list_select_related = ["company", "step__domain"]
    list_filter = [*ContentAdmin.list_filter, "step__domain"]
    readonly_fields = [*ContentAdmin.readonly_fields, "step", "started_at", "completed_at"]


@admin.register(Insight)
class InsightAdmin(ContentAdmin):
    list_display = [
        "__str__",
        "company",
        "domain",
        "step",
        "relevance_score",
        *ContentAdmin.content_columns,
    ]
    list_select_related = ["company", "domain", "step"]
    list_filter = [*ContentAdmin.list_filter, "domain"]
    readonly_fields = [*ContentAdmin.readonly_fields, "domain", "step"]


@admin.register(HealthSummary)
class HealthSummaryAdmin(ContentAdmin):
    list_display = ["__str__", "company", *ContentAdmin.content_columns]


@admin.register(RecommendationEffectiveness)
class RecommendationEffectivenessAdmin(admin.ModelAdmin):
    list_display = [
        "recommendation",
        "company",
        "was_started",
        "was_completed",
        "time_to_start",
        "time_to_complete",
        "created_at",
    ]
    list_filter = ["company", "was_started", "was_completed"]
    list_select_related = ["company", "recommendation"]
    readonly_fields = list_display

    def has_add_permission(self, request) -> bool:
        return False  # written by the recommendation lifecycle
