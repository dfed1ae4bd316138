"""Everything a company's dashboard shows, read once: dashboard_for().

A provider that is down degrades a section to a sentence; the page itself always
renders. Provider errors go to the log, never to the page.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings

from companies.models import WRITE_ROLES, Company
from companies.selectors import memberships_of
from generation.models import Generation
from generation.readable import Block, readable
from recommendations import selectors
from recommendations.lifecycle import Status
from recommendations.models import GeneratedContent, JourneyDomain, JourneyStep, StepStatus
from recommendations.services.content import (
    GENERATION_FAILURES,
    KIND_HEALTH,
    KIND_INSIGHT,
    KIND_RECOMMENDATION,
)
from recommendations.services.context import ReadLookups, read_lookups
from recommendations.services.health import health_summary_for
from recommendations.services.insights import insights_for, resolve_insight_target
from recommendations.services.recommendations import recommendations_for
from recommendations.services.serving import ContentPage

logger = logging.getLogger(__name__)

UNAVAILABLE = "The model is unavailable right now"
KIND_NAMES = {
    KIND_RECOMMENDATION: "A recommendation",
    KIND_INSIGHT: "Peer insights",
    KIND_HEALTH: "The health summary",
}
# The page's region of each kind.
SECTIONS = {
    KIND_RECOMMENDATION: "recommendations",
    KIND_INSIGHT: "insights",
    KIND_HEALTH: "health",
}
DASHBOARD_INSIGHTS = 5


@dataclass(frozen=True)
class Card:
    """One item as the page shows it: the row, its status as served, and a state (a
    css class and a sentence) saying whether it is new, current, being regenerated,
    or an earlier version shown because the model is unavailable."""

    item: GeneratedContent
    status: str
    state: str
    sentence: str


@dataclass(frozen=True)
class LiveCard:
    """Content being written: its generation (followed live by the page) and the text
    so far, readable (generation.readable), for a page opened mid-stream."""

    generation: Generation
    label: str
    blocks: list[Block]


@dataclass
class Dashboard:
    company: Company
    can_edit: bool
    nav_companies: list[Company]
    journey: list[selectors.DomainProgress]
    recommendations: list[Card] = field(default_factory=list)
    insights: list[Card] = field(default_factory=list)
    focus_domain: JourneyDomain | None = None
    health: Card | None = None
    # Content being written, by section (recommendations, insights, health).
    live: dict[str, list[LiveCard]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    @property
    def steps_done(self) -> int:
        return sum(domain.completed_count for domain in self.journey)

    @property
    def steps_total(self) -> int:
        return sum(domain.step_count for domain in self.journey)

    @property
    def next_step(self) -> "StepControl | None":
        """The journey step to work on now: the first one in progress, in journey
        order, else the first not started (None: every step is done, or no journey)."""
        steps = [(d, s) for d in self.journey for s in d.steps]
        for wanted in (StepStatus.IN_PROGRESS, StepStatus.NOT_STARTED):
            for domain, progress in steps:
                if progress.status == wanted:
                    return StepControl(domain=domain.domain, progress=progress)
        return None

    @property
    def domains(self) -> "list[DomainView]":
        """The journey as the page lists it: each domain with its steps' controls,
        the one holding the next step unfolded."""
        next_step = self.next_step
        return [
            DomainView(
                progress=domain,
                steps=[StepControl(domain=domain.domain, progress=p) for p in domain.steps],
                unfolded=next_step is not None and next_step.domain == domain.domain,
            )
            for domain in self.journey
        ]


# What one click on a step's control does: a step moves forward, a done one reopens.
ADVANCE = {
    StepStatus.NOT_STARTED: (StepStatus.IN_PROGRESS, "Start"),
    StepStatus.IN_PROGRESS: (StepStatus.COMPLETED, "Mark done"),
    StepStatus.COMPLETED: (StepStatus.IN_PROGRESS, "Reopen"),
}


@dataclass(frozen=True)
class StepControl:
    """A step with the company's status on it and the status its one control sets."""

    domain: JourneyDomain
    progress: selectors.StepProgress

    @property
    def step(self) -> JourneyStep:
        return self.progress.step

    @property
    def advance_to(self) -> str:
        return ADVANCE[StepStatus(self.progress.status)][0]

    @property
    def advance_label(self) -> str:
        return ADVANCE[StepStatus(self.progress.status)][1]


@dataclass(frozen=True)
class DomainView:
    """A journey domain as the page lists it: its progress, each step's control, and
    whether it is unfolded (it holds the next step)."""

    progress: selectors.DomainProgress
    steps: list[StepControl]
    unfolded: bool


def dashboard_for(*, user, company_id: int, refresh: bool = False) -> Dashboard | None:
    """The dashboard of one of the user's companies (None: not theirs), from what is
    stored: nothing here waits on the model. What is missing, stale or expired is
    claimed and written in the background (generation.flight's single flight, a
    Django-Q2 task) and shows as a card being written, beside the earlier version
    when there is one. `refresh`: the page re-reading its own regions (after a stream
    ends, after an action): not a new read, so no cache hit is counted."""
    memberships = memberships_of(user=user)
    membership = next((m for m in memberships if m.company_id == company_id), None)
    if membership is None:
        return None
    company = membership.company
    lookups = read_lookups(company=company)
    page = Dashboard(
        company=company,
        can_edit=membership.role in WRITE_ROLES,
        nav_companies=[m.company for m in memberships],
        journey=lookups.journey,
    )
    reads = {
        KIND_RECOMMENDATION: _recommendations(page, lookups, count=not refresh),
        KIND_INSIGHT: _insights(page, lookups, count=not refresh),
        KIND_HEALTH: _health(page, lookups, count=not refresh),
    }
    context_hash = lookups.current_hash()
    # The one the company is working on first, then the others in the service's order.
    page.recommendations = sorted(
        _cards(reads[KIND_RECOMMENDATION], context_hash),
        key=lambda card: not (card.status == Status.ACTIVE and card.item.started_at),
    )
    page.insights = _cards(reads[KIND_INSIGHT], context_hash)
    page.health = next(iter(_cards(reads[KIND_HEALTH], context_hash)), None)
    page.live = {
        SECTIONS[kind]: [
            LiveCard(g, KIND_NAMES[kind], readable(g.text)) for g in (read.pending if read else [])
        ]
        for kind, read in reads.items()
    }
    return page


def _read(page: Dashboard, section: str, read, *, nothing: str, partly: str) -> ContentPage:
    """One section's read; a provider that is down leaves a notice (`nothing`: there
    was nothing earlier to show, `partly`: earlier content is shown) and the log line."""
    try:
        content = read()
    except GENERATION_FAILURES as exc:
        logger.warning("dashboard %s: %s: %s", page.company.pk, section, exc.message)
        page.notices.append(nothing)
        return ContentPage(error=exc.message)
    if content.error:
        logger.warning("dashboard %s: %s: %s", page.company.pk, section, content.error)
        if partly:
            page.notices.append(partly)
    return content


def _recommendations(page: Dashboard, lookups: ReadLookups, *, count: bool) -> ContentPage:
    return _read(
        page,
        "recommendations",
        lambda: recommendations_for(
            company=page.company,
            limit=settings.RECOMMENDATIONS_DEFAULT_LIMIT,
            lookups=lookups,
            wait=False,
            count_hit=count,
        ),
        nothing=f"{UNAVAILABLE}, and there are no earlier recommendations to show.",
        partly=f"{UNAVAILABLE}: some recommendations could not be made yet.",
    )


def _insights(page: Dashboard, lookups: ReadLookups, *, count: bool) -> ContentPage | None:
    domain, step = resolve_insight_target(domain=None, step=None, journey=lookups.journey)
    if domain is None:
        return None
    page.focus_domain = domain
    unavailable = f"{UNAVAILABLE}: new peer insights could not be made."
    return _read(
        page,
        "insights",
        lambda: insights_for(
            company=page.company,
            domain=domain,
            step=step,
            take=lambda rows: list(rows[:DASHBOARD_INSIGHTS]),
            lookups=lookups,
            wait=False,
            count_hit=count,
        ),
        nothing=unavailable,
        partly=unavailable,
    )


def _health(page: Dashboard, lookups: ReadLookups, *, count: bool) -> ContentPage:
    return _read(
        page,
        "health",
        lambda: health_summary_for(
            company=page.company, lookups=lookups, wait=False, count_hit=count
        ),
        nothing=f"{UNAVAILABLE}, and there is no earlier health summary to show.",
        partly="",
    )


def _cards(content: ContentPage | None, context_hash: str) -> list[Card]:
    return [_card(row, content, context_hash) for row in (content.items if content else [])]


def _card(item: GeneratedContent, content: ContentPage, context_hash: str) -> Card:
    status, model_down = content.status_of(item), bool(content.error)
    is_fallback, is_new = content.is_fallback(item), item.pk in content.new
    if status == Status.COMPLETED:
        return Card(item, status, "current", "Completed.")
    if status == Status.REGENERATING:
        sentence = "Being regenerated: this version is shown until the new one is written."
        return Card(item, status, "generating", sentence)
    earlier = is_fallback or status == Status.STALE or item.context_hash != context_hash
    if earlier and model_down:
        sentence = "An earlier version, shown because the model is unavailable right now."
        return Card(item, status, "fallback", sentence)
    if earlier:
        return Card(
            item, status, "generating", "An earlier version, shown while a new one is being made."
        )
    if is_new:
        return Card(item, status, "new", "New: made for your current situation.")
    return Card(item, status, "current", "Current.")
