"""Workflows of the journey and its AI content, one module per concern:

- context: the company context and the read lookups every read shares
- journey: progress on the journey (a new context) and changes to the journey
- content: the kinds of content and how an artefact becomes their rows
- serving, presentation: what a read returns; showings and hits, written behind
- recommendations, insights, health: the reads that generate what is missing
- lifecycle: start, complete, feedback, and the admin's actions
- dashboard: everything the company page shows, read once
"""

from generation.flight import register_writer
from recommendations.services import health as _health
from recommendations.services import insights as _insights
from recommendations.services import recommendations as _recommendations
from recommendations.services.content import (
    CONTENT_MODELS,
    GENERATION_FAILURES,
    KIND_HEALTH,
    KIND_INSIGHT,
    KIND_RECOMMENDATION,
    refresh_rows,
)
from recommendations.services.context import (
    ReadLookups,
    compute_context,
    current_snapshot,
    fresh_lookups,
    read_lookups,
    refresh_context,
)
from recommendations.services.dashboard import Card, Dashboard, dashboard_for
from recommendations.services.health import health_summary_for
from recommendations.services.insights import ensure_insights, insights_for, resolve_insight_target
from recommendations.services.journey import (
    journey_changed,
    mark_context_stale_for_company,
    set_domain_maturity,
    update_step_progress,
)
from recommendations.services.lifecycle import (
    complete_recommendation,
    edit_content,
    mark_stale,
    record_feedback,
    regenerate,
    start_recommendation,
)
from recommendations.services.presentation import present
from recommendations.services.recommendations import recommendations_for
from recommendations.services.serving import ContentPage

# Rows of content produced in the background (a page that did not wait for it).
register_writer(KIND_RECOMMENDATION, _recommendations.write_from_generation)
register_writer(KIND_INSIGHT, _insights.write_from_generation)
register_writer(KIND_HEALTH, _health.write_from_generation)

__all__ = [
    "CONTENT_MODELS",
    "GENERATION_FAILURES",
    "KIND_HEALTH",
    "KIND_INSIGHT",
    "KIND_RECOMMENDATION",
    "Card",
    "ContentPage",
    "Dashboard",
    "ReadLookups",
    "complete_recommendation",
    "compute_context",
    "current_snapshot",
    "dashboard_for",
    "edit_content",
    "ensure_insights",
    "fresh_lookups",
    "health_summary_for",
    "insights_for",
    "journey_changed",
    "mark_context_stale_for_company",
    "mark_stale",
    "present",
    "read_lookups",
    "recommendations_for",
    "record_feedback",
    "refresh_context",
    "refresh_rows",
    "regenerate",
    "resolve_insight_target",
    "set_domain_maturity",
    "start_recommendation",
    "update_step_progress",
]
