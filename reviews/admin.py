"""Runs are records: read-only, with proposal, reviews, events and decision inline and
a timeline. Personas are curated here; their prompts are curated as generation prompts."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from generation.models import Prompt
from reviews import selectors
from reviews.models import Decision, Persona, PersonaReview, ProposalVersion, Run, RunEvent


class ReadOnlyInline(admin.StackedInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ProposalInline(ReadOnlyInline):
    model = ProposalVersion
    fields = ["expanded_proposal", "proposal_diff", "persona_template_version", "edit_notes"]
    readonly_fields = fields


class ReviewInline(ReadOnlyInline):
    model = PersonaReview
    fields = [
        "persona_name",
        "confidence_score",
        "blocking_issues_present",
        "security_concerns_present",
        "prompt_parameters",
        "review",
        "created_at",
    ]
    readonly_fields = fields


class DecisionInline(ReadOnlyInline):
    model = Decision
    fields = ["overall_weighted_confidence", "notes", "decision", "created_at"]
    readonly_fields = fields


class EventInline(admin.TabularInline):
    model = RunEvent
    extra = 0
    can_delete = False
    fields = ["id", "type", "step", "persona_key", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "company",
        "status",
        "run_type",
        "decision_label",
        "overall_weighted_confidence",
        "provider_calls",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "run_type", "decision_label", "company"]
    list_select_related = ["company"]
    search_fields = ["input_idea"]
    inlines = [ProposalInline, ReviewInline, DecisionInline, EventInline]
    readonly_fields = [
        "id",
        "company",
        "created_by",
        "status",
        "run_type",
        "parent_run",
        "input_idea",
        "extra_context",
        "model",
        "temperature",
        "parameters",
        "overall_weighted_confidence",
        "decision_label",
        "error",
        "provider_calls",
        "worker",
        "lease_expires_at",
        "recoveries",
        "idempotency_key",
        "created_at",
        "updated_at",
        "finished_at",
        "timeline",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a record: viewable, never edited (the view renders read-only)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="timeline")
    def timeline(self, obj: Run) -> str:
        rows = selectors.timeline(run=obj)
        return format_html(
            "<table><tr><th>event</th><th>step</th><th>persona</th><th>since start</th>"
            "<th>since previous</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{} ms</td></tr>",
                (
                    (
                        r["type"],
                        f" x{r['pieces']}" if r["pieces"] > 1 else "",
                        r["step"],
                        r["persona"],
                        r["since_start_ms"],
                        r["since_previous_ms"],
                    )
                    for r in rows
                ),
            ),
        )


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "weight", "is_active", "order", "prompt_key", "active_version"]
    list_editable = ["weight", "is_active", "order"]
    readonly_fields = ["prompt_versions"]

    @admin.display(description="active prompt")
    def active_version(self, obj: Persona) -> str:
        prompt = Prompt.objects.filter(key=obj.prompt_key, is_active=True).first()
        return str(prompt) if prompt else "none"

    @admin.display(description="prompt versions")
    def prompt_versions(self, obj: Persona) -> str:
        prompts = Prompt.objects.filter(key=obj.prompt_key).order_by("-version")
        return (
            format_html_join(
                "",
                '<div><a href="{}">{}</a>{}</div>',
                (
                    (
                        reverse("admin:generation_prompt_change", args=[p.pk]),
                        str(p),
                        " (active)" if p.is_active else "",
                    )
                    for p in prompts
                ),
            )
            or "none"
        )
