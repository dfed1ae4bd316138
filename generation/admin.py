"""Admin for the generate-once layer.

Prompt versions are immutable once used: the change form of a used version shows its
content read-only, and every change of version (new version, activate, roll back) goes
through generation.prompts, never through a form field. Logs, generations and hit
counters are records: they can be read here, not written.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import modelform_factory
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template import Engine, TemplateSyntaxError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from generation import ledger, previews
from generation.errors import PromptMissing
from generation.models import Generation, GenerationLog, HitCounter, Prompt
from generation.prompts import (
    activate_prompt,
    create_prompt_version,
    new_version_from,
    prompt_diff,
    rollback_prompt,
)
from generation.schemas import get_schema, schema_names

# Content a form may edit on a version nobody has used yet; key and version name the
# version, so they are never edited in place.
EDITABLE_CONTENT = tuple(f for f in Prompt.CONTENT_FIELDS if f not in ("key", "version"))
RECORD_FIELDS = ("version", "is_active", "created_at", "created_by", "usage")


class PromptForm(forms.ModelForm):
    class Meta:
        model = Prompt
        fields = ["key", *EDITABLE_CONTENT, "notes"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("output_schema")
        if field is not None:
            names = schema_names()
            current = self.initial.get("output_schema") or ""
            if current and current not in names:
                names.append(current)
            field.widget = forms.Select(choices=[("", "(text)"), *[(n, n) for n in names]])

    def clean_output_schema(self) -> str:
        name = self.cleaned_data["output_schema"]
        try:
            get_schema(name)
        except LookupError as exc:
            raise ValidationError(str(exc)) from None
        return name

    def _clean_template_text(self, name: str) -> str:
        text = self.cleaned_data[name]
        try:
            Engine(autoescape=False).from_string(text)
        except TemplateSyntaxError as exc:
            raise ValidationError(f"Template syntax error: {exc}") from None
        return text

    def clean_template(self) -> str:
        return self._clean_template_text("template")

    def clean_instructions(self) -> str:
        return self._clean_template_text("instructions")


class PromptAddForm(PromptForm):
    # Not the model's is_active: activation goes through activate_prompt(), which
    # deactivates the key's current version in the same transaction.
    activate = forms.BooleanField(
        required=False, help_text="Make this the active version of its key once saved."
    )


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    form = PromptForm
    list_display = [
        "key",
        "version",
        "is_active",
        "model_display",
        "output_schema",
        "created_at",
        "created_by",
    ]
    list_display_links = ["key", "version"]
    list_filter = ["key", "is_active"]
    search_fields = ["key", "instructions", "template", "notes"]
    list_select_related = ["created_by"]
    actions = ["activate_selected"]

    @admin.display(description="model", ordering="model")
    def model_display(self, obj: Prompt) -> str:
        return obj.model or "(default)"

    @admin.display(description="used by")
    def usage(self, obj: Prompt) -> str:
        if obj.pk is None:
            return "-"
        generations, logs = obj.generations.count(), obj.logs.count()
        if not generations and not logs:
            return "not used yet: content can still be edited"
        return f"{generations} generation(s), {logs} log row(s): content is immutable"

    # --- forms ------------------------------------------------------------------------

    def get_fields(self, request: HttpRequest, obj: Prompt | None = None) -> list[str]:
        if obj is None:
            return ["key", *EDITABLE_CONTENT, "notes", "activate"]
        return ["key", *RECORD_FIELDS, *EDITABLE_CONTENT, "notes"]

    def get_readonly_fields(self, request: HttpRequest, obj: Prompt | None = None) -> list[str]:
        if obj is None:
            return []
        # is_active changes only through activate/roll back, which keep one active per key.
        readonly = ["key", *RECORD_FIELDS]
        if obj.is_used():
            readonly += EDITABLE_CONTENT
        return readonly

    def get_form(self, request: HttpRequest, obj: Prompt | None = None, **kwargs: Any):
        if obj is None:
            kwargs["form"] = PromptAddForm
        return super().get_form(request, obj, **kwargs)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        # Deleting versions in bulk would bypass has_delete_permission(obj) below.
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Prompt | None = None) -> bool:
        # A used version is history (logs point at it) and the active one is live.
        if obj is not None and (obj.is_active or obj.is_used()):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Prompt, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new prompt is always the next version of its key, numbered under a lock.
        created = create_prompt_version(
            key=obj.key,
            activate=form.cleaned_data.get("activate", False),
            by=request.user,
            notes=obj.notes,
            **{f: getattr(obj, f) for f in EDITABLE_CONTENT},
        )
        # The admin goes on with the instance it passed in (log entry, redirect).
        obj.pk = created.pk
        for f in ("version", "is_active", "created_at", "created_by_id"):
            setattr(obj, f, getattr(created, f))
        obj._state.adding = False
        obj._state.db = created._state.db

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and object_id is not None:
            prompt = self.get_object(request, object_id)
            if prompt is not None and prompt.is_used():
                edited = self._content_edits(request, prompt)
                if edited:
                    return self._refuse_edit(request, prompt, edited)
        if object_id is not None:
            prompt = self.get_object(request, object_id)
            if prompt is not None:
                # Roll back is offered only when the active version has one before it.
                active = Prompt.objects.filter(key=prompt.key, is_active=True).first()
                extra_context = {
                    **(extra_context or {}),
                    "can_roll_back": active is not None
                    and Prompt.objects.filter(key=prompt.key, version__lt=active.version).exists(),
                    "impact": None
                    if prompt.is_active
                    else previews.activation_impact(prompt=prompt),
                }
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # Prompt.save() refused: the version became used while the form was open.
            prompt = self.get_object(request, object_id) if object_id else None
            if prompt is None:
                raise
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(self._change_url(prompt))

    def _content_edits(self, request: HttpRequest, prompt: Prompt) -> list[str]:
        """Content fields the POST would change (a form opened before the version was used)."""
        names = [f for f in EDITABLE_CONTENT if f in request.POST]
        if not names:
            return []
        bound = modelform_factory(Prompt, fields=names)(data=request.POST, instance=prompt)
        return list(bound.changed_data)

    def _refuse_edit(self, request: HttpRequest, prompt: Prompt, fields: list[str]) -> HttpResponse:
        messages.error(
            request,
            f"{prompt} has been used, so its content cannot change (you edited: "
            f"{', '.join(fields)}). Nothing was saved; use “New version from this” instead.",
        )
        return HttpResponseRedirect(self._change_url(prompt))

    # --- version workflow views -----------------------------------------------------

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        own = [
            path(
                "<path:object_id>/new-version/",
                wrap(self.new_version_view),
                name="generation_prompt_new_version",
            ),
            path(
                "<path:object_id>/activate/",
                wrap(self.activate_view),
                name="generation_prompt_activate",
            ),
            path(
                "<path:object_id>/rollback/",
                wrap(self.rollback_view),
                name="generation_prompt_rollback",
            ),
            path("<path:object_id>/diff/", wrap(self.diff_view), name="generation_prompt_diff"),
            path(
                "<path:object_id>/preview/",
                wrap(self.preview_view),
                name="generation_prompt_preview",
            ),
        ]
        # Before the defaults: their "<path:object_id>/" would swallow these.
        return own + super().get_urls()

    def _get(self, request: HttpRequest, object_id: str) -> Prompt:
        return get_object_or_404(self.get_queryset(request), pk=object_id)

    def _change_url(self, prompt: Prompt) -> str:
        return reverse("admin:generation_prompt_change", args=[prompt.pk])

    def new_version_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._new_version)(request, object_id)

    def _new_version(self, request: HttpRequest, object_id: str) -> HttpResponse:
        prompt = self._get(request, object_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        try:
            created = new_version_from(prompt=prompt, by=request.user)
        except LookupError as exc:  # its output schema is no longer registered
            messages.error(request, str(exc))
            return HttpResponseRedirect(self._change_url(prompt))
        messages.success(
            request,
            f"Created {created} from {prompt} (not active yet): edit it, then activate it.",
        )
        return HttpResponseRedirect(self._change_url(created))

    def activate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._activate)(request, object_id)

    def _activate(self, request: HttpRequest, object_id: str) -> HttpResponse:
        prompt = self._get(request, object_id)
        if not self.has_change_permission(request, prompt):
            raise PermissionDenied
        if prompt.is_active:
            messages.info(request, f"{prompt} is already the active version.")
        else:
            activate_prompt(prompt=prompt)
            messages.success(request, f"{prompt} is now the active version of {prompt.key}.")
        return HttpResponseRedirect(self._change_url(prompt))

    def rollback_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._rollback)(request, object_id)

    def _rollback(self, request: HttpRequest, object_id: str) -> HttpResponse:
        prompt = self._get(request, object_id)
        if not self.has_change_permission(request, prompt):
            raise PermissionDenied
        try:
            activated = rollback_prompt(key=prompt.key)
        except PromptMissing as exc:
            messages.error(request, f"Cannot roll back: {exc.message}")
            return HttpResponseRedirect(self._change_url(prompt))
        messages.success(request, f"Rolled back: {activated} is now the active version.")
        return HttpResponseRedirect(self._change_url(activated))

    def diff_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        prompt = self._get(request, object_id)
        if not self.has_view_permission(request, prompt):
            raise PermissionDenied
        lines = []
        for line in prompt_diff(prompt=prompt).splitlines():
            if line.startswith(("+++", "---")):
                css = "head"
            elif line.startswith("+"):
                css = "added"
            elif line.startswith("-"):
                css = "removed"
            elif line.startswith("@@"):
                css = "hunk"
            else:
                css = ""
            lines.append((css, line))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": prompt,
            "title": f"Diff of {prompt} against the previous version",
            "lines": lines,
        }
        return TemplateResponse(request, "admin/generation/prompt/diff.html", context)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """What activating this version supersedes and costs; a POST adds a dry run on
        sample contexts (previews.dry_run: priced, nothing stored as content)."""
        prompt = self._get(request, object_id)
        if not self.has_view_permission(request, prompt):
            raise PermissionDenied
        samples = None
        if request.method == "POST":
            if not self.has_change_permission(request, prompt):
                raise PermissionDenied
            samples = previews.dry_run(prompt=prompt)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": prompt,
            "title": f"Preview activating {prompt}",
            "impact": previews.activation_impact(prompt=prompt),
            "samples": samples,
            "sample_limit": previews.SAMPLES,
            "has_change_permission": self.has_change_permission(request, prompt),
        }
        return TemplateResponse(request, "admin/generation/prompt/preview.html", context)

    # --- bulk action ----------------------------------------------------------------

    @admin.action(description="Activate the selected versions", permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Prompt]) -> None:
        prompts = list(queryset.order_by("key", "version"))
        keys = [p.key for p in prompts]
        clashing = sorted({k for k in keys if keys.count(k) > 1})
        if clashing:
            messages.error(
                request,
                "Only one version per key can be active; you selected several of: "
                f"{', '.join(clashing)}. Nothing was activated.",
            )
            return
        for prompt in prompts:
            activate_prompt(prompt=prompt)
        messages.success(request, f"Activated {', '.join(str(p) for p in prompts)}.")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the generation layer: viewable, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def pretty_json(value: Any) -> str:
    if value is None:
        return "-"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    # format_html escapes: model output is untrusted.
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


@admin.register(GenerationLog)
class GenerationLogAdmin(ReadOnlyAdmin):
    # Six narrow columns: at 1280px, beside the admin's navigation and the filters,
    # the whole row fits with no sideways scroll. Company, provider and model are
    # filters; the rest of a row (cached tokens, latency, attempts, origin) is on its page.
    list_display = ["when", "kind", "prompt", "outcome", "cost", "tokens"]
    list_filter = [
        "outcome",
        "kind",
        ("prompt", admin.RelatedOnlyFieldListFilter),
        "provider",
        "model",
        "company",
    ]
    date_hierarchy = "created_at"
    search_fields = ["kind", "model", "error", "origin"]
    list_select_related = ["company", "prompt"]
    fields = [
        "created_at",
        "kind",
        "company",
        "prompt",
        "generation",
        "outcome",
        "provider",
        "model",
        "tokens_in",
        "tokens_cached",
        "tokens_in_estimated",
        "tokens_out",
        "cost",
        "latency_ms",
        "attempts",
        "origin",
        "error",
        "raw_output",
    ]

    @admin.display(description="created", ordering="created_at")
    def when(self, obj: GenerationLog) -> str:
        # Compact and sortable at a glance; the full timestamp is on the row's page.
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="tokens in / out")
    def tokens(self, obj: GenerationLog) -> str:
        return f"{obj.tokens_in} / {obj.tokens_out}"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, extra_context)
        # The totals of exactly the rows the list shows, filters and search applied
        # (the ChangeList's public queryset), above the list.
        context = getattr(response, "context_data", None)
        if context is not None and "cl" in context:
            context["totals"] = ledger.totals(context["cl"].queryset)
        return response


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = [
        "kind",
        "scope",
        "status",
        "prompt",
        "company",
        "model",
        "attempts",
        "created_at",
        "completed_at",
        "expires_at",
    ]
    list_filter = ["status", "kind", ("prompt", admin.RelatedOnlyFieldListFilter), "company"]
    search_fields = ["scope", "context_hash"]
    list_select_related = ["company", "prompt"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["kind", "scope", "context_hash", "company", "prompt", "status"]}),
        (
            "Provider",
            {"fields": ["provider", "model", "stream", "attempts", "owner", "lease_expires_at"]},
        ),
        ("Content", {"fields": ["result_pretty", "text", "chunk_count", "error", "inputs_pretty"]}),
        ("Dates", {"fields": ["created_at", "updated_at", "completed_at", "expires_at"]}),
    ]
    readonly_fields = ["result_pretty", "inputs_pretty", "chunk_count"]

    @admin.display(description="result")
    def result_pretty(self, obj: Generation) -> str:
        return pretty_json(obj.result)

    @admin.display(description="inputs")
    def inputs_pretty(self, obj: Generation) -> str:
        return pretty_json(obj.inputs)

    @admin.display(description="chunks")
    def chunk_count(self, obj: Generation) -> int:
        return obj.chunks.count()


@admin.register(HitCounter)
class HitCounterAdmin(ReadOnlyAdmin):
    list_display = ["day", "kind", "company", "hits"]
    list_filter = ["kind", "company"]
    date_hierarchy = "day"
    list_select_related = ["company"]
