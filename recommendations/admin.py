from django import forms
from django.contrib import admin, messages

from generation.schema_forms import SchemaFormMixin, initial_from, schema_fields
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
from recommendations.schemas import HealthSummaryOutput, InsightItem, RecommendationOutput


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


class ContentForm(SchemaFormMixin, forms.ModelForm):
    """Stored model output edited through its output schema's fields (never a raw JSON
    box): a save that breaks the schema is an error on the form and changes nothing."""

    # The model field holding the schema's whole data; None: each field of the schema
    # is stored in the model field of the same name.
    content_field: str | None = "content"

    class Meta:
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial.update(initial_from(self.schema, self._stored()))

    def _stored(self) -> dict:
        if self.content_field is not None:
            return getattr(self.instance, self.content_field, None) or {}
        return {name: getattr(self.instance, name) for name in self.schema.model_fields}

    def edited_fields(self) -> dict:
        """The model fields this valid form changes, with their new values."""
        data = self.schema_data or {}
        new = {self.content_field: data} if self.content_field is not None else data
        stored = self._stored()
        if self.content_field is not None:
            stored = {self.content_field: stored}
        return {name: value for name, value in new.items() if stored.get(name) != value}


def content_form(model, schema, *, content_field: str | None = "content") -> type[ContentForm]:
    meta = type("Meta", (), {"model": model, "fields": []})
    attrs = {
        **schema_fields(schema),
        "schema": schema,
        "content_field": content_field,
        "Meta": meta,
    }
    return type(f"{model.__name__}ContentForm", (ContentForm,), attrs)


class ContentAdmin(admin.ModelAdmin):
    """Shared by the three kinds of content; the kind is the model (one admin each)."""

    actions = [mark_stale, regenerate]
    list_filter = ["company", "status", ("prompt", admin.RelatedOnlyFieldListFilter), "model"]
    list_select_related = ["company", "prompt"]
    date_hierarchy = "generated_at"
    readonly_fields = [
        "company",
        "status",
        "context_hash",
        "generation",
        "prompt",
        "model",
        "provider",
        "generated_at",
        "expires_at",
        "stale_at",
        "last_presented_at",
        "times_presented",
        "revision",
    ]
    content_columns = ["status", "prompt", "times_presented", "generated_at"]
    form: type[ContentForm]

    def has_add_permission(self, request) -> bool:
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The schema's fields only: status changes go through the lifecycle (actions)
        # and provenance is a record, never a free form field.
        return self.form

    def get_fieldsets(self, request, obj=None):
        return [
            ("Content (validated by its output schema)", {"fields": list(self.form.base_fields)}),
            ("Provenance and lifecycle", {"fields": self.get_readonly_fields(request, obj)}),
        ]

    def save_model(self, request, obj, form, change) -> None:
        # Through the service: it raises the row's revision, so cached representations
        # of the old content are never served again.
        fields = form.edited_fields()
        if fields:
            services.edit_content(row=obj, fields=fields)


@admin.register(Recommendation)
class RecommendationAdmin(ContentAdmin):
    form = content_form(Recommendation, RecommendationOutput)
    list_display = ["__str__", "company", "step", *ContentAdmin.content_columns, "started_at"]
    list_select_related = [*ContentAdmin.list_select_related, "step__domain"]
    list_filter = [*ContentAdmin.list_filter, "step__domain"]
    readonly_fields = [
        *ContentAdmin.readonly_fields,
        "step",
        "started_at",
        "completed_at",
        "user_feedback",
    ]


@admin.register(Insight)
class InsightAdmin(ContentAdmin):
    # An insight's row holds one item of the set its prompt returns, field by field.
    form = content_form(Insight, InsightItem, content_field=None)
    list_display = [
        "__str__",
        "company",
        "domain",
        "step",
        "relevance_score",
        *ContentAdmin.content_columns,
    ]
    list_select_related = [*ContentAdmin.list_select_related, "domain", "step"]
    list_filter = [*ContentAdmin.list_filter, "domain"]
    readonly_fields = [*ContentAdmin.readonly_fields, "domain", "step"]


@admin.register(HealthSummary)
class HealthSummaryAdmin(ContentAdmin):
    form = content_form(HealthSummary, HealthSummaryOutput)
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
