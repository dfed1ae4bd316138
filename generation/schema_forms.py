"""Form fields for a registered output schema, so stored model output is edited field
by field and validated by the very schema the model's answer had to pass.

A schema's fields become form fields: text (a textarea for markdown), numbers,
choices for a Literal, one line per item for a list of strings, and a nested object's
fields under its name ("author_profile__name"). The form is valid only when the
assembled data passes the schema; its errors are shown on the fields they concern.
"""

import types
import typing
from typing import Any

from django import forms
from pydantic import BaseModel, ValidationError

SEP = "__"
# Prose fields: edited in a textarea.
LONG_TEXT = ("summary", "content", "body", "description")


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_text_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list and typing.get_args(annotation) == (str,)


def _field_for(name: str, info, annotation: Any) -> forms.Field:
    options = {"label": name.replace("_", " "), "help_text": info.description or ""}
    if typing.get_origin(annotation) is typing.Literal:
        choices = [(value, value) for value in typing.get_args(annotation)]
        return forms.ChoiceField(choices=choices, **options)
    if _is_text_list(annotation):
        help_text = " ".join(filter(None, [options.pop("help_text"), "One item per line."]))
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 5}),
            required=False,
            strip=True,
            help_text=help_text,
            **options,
        )
    if annotation is int:
        return forms.IntegerField(**options)
    if annotation is float:
        return forms.FloatField(**options)
    long = name in LONG_TEXT or "markdown" in (info.description or "")
    widget = forms.Textarea(attrs={"rows": 6}) if long else forms.TextInput(attrs={"size": 80})
    return forms.CharField(widget=widget, **options)


def _annotation(info) -> Any:
    annotation = info.annotation
    # "X | None": the form edits X; the schema says whether None is allowed.
    if isinstance(annotation, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else str
    return annotation


def schema_fields(schema: type[BaseModel], prefix: str = "") -> dict[str, forms.Field]:
    """Form fields for every leaf of the schema, named by their path."""
    fields: dict[str, forms.Field] = {}
    for name, info in schema.model_fields.items():
        annotation = _annotation(info)
        if _is_model(annotation):
            fields.update(schema_fields(annotation, f"{prefix}{name}{SEP}"))
        else:
            fields[f"{prefix}{name}"] = _field_for(name, info, annotation)
    return fields


def initial_from(schema: type[BaseModel], data: Any, prefix: str = "") -> dict[str, Any]:
    """The form's initial values for stored data (whatever its shape: an old row may
    not match the schema any more; what fits is shown, the rest is left blank)."""
    data = data if isinstance(data, dict) else {}
    initial: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        annotation, value = _annotation(info), data.get(name)
        if _is_model(annotation):
            initial.update(initial_from(annotation, value, f"{prefix}{name}{SEP}"))
        elif _is_text_list(annotation):
            items = value if isinstance(value, list) else []
            initial[f"{prefix}{name}"] = "\n".join(str(item) for item in items)
        elif value is not None:
            initial[f"{prefix}{name}"] = value
    return initial


def data_from(schema: type[BaseModel], cleaned: dict[str, Any], prefix: str = "") -> dict:
    """The nested data of the cleaned form values (not validated yet)."""
    data: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        annotation, key = _annotation(info), f"{prefix}{name}"
        if _is_model(annotation):
            data[name] = data_from(annotation, cleaned, f"{key}{SEP}")
        elif _is_text_list(annotation):
            lines = (cleaned.get(key) or "").splitlines()
            data[name] = [line.strip() for line in lines if line.strip()]
        elif key in cleaned:
            data[name] = cleaned[key]
    return data


class SchemaFormMixin:
    """For a form whose fields came from schema_fields(schema): clean() validates the
    assembled data with the schema and keeps it in `schema_data` (JSON-ready)."""

    schema: type[BaseModel]
    schema_data: dict | None = None

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            parsed = self.schema.model_validate(data_from(self.schema, cleaned))
        except ValidationError as exc:
            for error in exc.errors():
                self.add_error(self._field_of(error["loc"]), error["msg"])
            return cleaned
        self.schema_data = parsed.model_dump(mode="json")
        return cleaned

    def _field_of(self, loc: tuple) -> str | None:
        """The form field an error's location points at (a list item's error is its
        list's), or None for an error of the whole."""
        names = [part for part in loc if isinstance(part, str)]
        for end in range(len(names), 0, -1):
            name = SEP.join(names[:end])
            if name in self.fields:
                return name
        return None
