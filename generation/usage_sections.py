"""Figures other apps add to the usage report, without generation knowing them.

An app registers a section from its AppConfig.ready(); /api/usage/ then answers
its figures under `sections.<name>`, and the usage page includes its template (a
staff-only section only for staff, among the operations figures).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class UsageSection:
    name: str
    # (user=, since=, until=) -> a JSON-ready dict, scoped to the user's companies.
    figures: Callable[..., dict[str, Any]]
    # Rendered on the usage page with `section` in its context (section.figures).
    template: str
    # Operations figures (durations, failure rates): the page shows them to staff only.
    staff_only: bool = False


_sections: dict[str, UsageSection] = {}


def register(section: UsageSection) -> None:
    _sections[section.name] = section


def sections() -> list[UsageSection]:
    return list(_sections.values())


@dataclass(frozen=True)
class RenderedSection:
    name: str
    template: str
    figures: dict[str, Any]
    staff_only: bool = False


def figures_for(
    *, user, since: date, until: date, include_staff_only: bool = True
) -> list[RenderedSection]:
    """Every section's figures; without the staff-only sections when
    `include_staff_only` is False (their figures are not even computed)."""
    return [
        RenderedSection(
            s.name, s.template, s.figures(user=user, since=since, until=until), s.staff_only
        )
        for s in sections()
        if include_staff_only or not s.staff_only
    ]
