"""Demo data for this app, loaded by `manage.py load_demo`: one journey of 4 domains x 5
steps, and two companies at different stages. Safe to run again (nothing duplicates,
progress already made is kept)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from companies.models import Company, Membership
from recommendations.models import JourneyDomain, JourneyStep, StepStatus
from recommendations.services import journey_changed, refresh_context, update_step_progress

JOURNEY = {
    "Strategy": [
        ("Define your vision", "Write down where the company should be in three years."),
        ("Know your customer", "Describe your ideal customer and the problem you solve."),
        ("Set yearly goals", "Three measurable goals for the year."),
        ("Build a business plan", "Revenue model, costs and the plan to get there."),
        ("Review quarterly", "A recurring review of goals against results."),
    ],
    "Finance": [
        ("Separate the accounts", "Business money in business accounts only."),
        ("Track cash flow", "A monthly view of money in and out."),
        ("Price for profit", "Check that every offer has a healthy margin."),
        ("Budget the year", "A budget per month, compared with actuals."),
        ("Plan for funding", "Know how you would fund the next stage."),
    ],
    "Marketing": [
        ("Position your offer", "One sentence on why customers choose you."),
        ("Build a simple website", "A site that explains the offer and takes enquiries."),
        ("Collect reviews", "Ask every happy customer for a review."),
        ("Start a newsletter", "Keep in touch with customers monthly."),
        ("Measure your channels", "Know which channel brings which customers."),
    ],
    "Operations": [
        ("Document key processes", "Write down how the core work is done."),
        ("Choose your tools", "One tool per job, everyone using it."),
        ("Hire your first helper", "Decide what to hand over first, then hire."),
        ("Automate the routine", "Automate one repetitive task per month."),
        ("Measure quality", "A simple quality measure reviewed monthly."),
    ],
}

# (company name, steps completed, steps in progress), as "Domain/step number" (1-based).
COMPANIES = {
    "Acme Demo": (["Strategy/1", "Strategy/2", "Finance/1"], ["Strategy/3", "Marketing/1"]),
    "Birch & Co Demo": (
        [f"{d}/{n}" for d in ("Strategy", "Finance", "Marketing") for n in range(1, 6)]
        + ["Operations/1", "Operations/2"],
        ["Operations/3"],
    ),
}


def load_demo(*, stdout) -> None:
    steps = load_journey()
    for name, (completed, in_progress) in COMPANIES.items():
        company, _ = Company.objects.get_or_create(slug=slugify(name), defaults={"name": name})
        for ref in in_progress:
            _advance(company, steps[ref], StepStatus.IN_PROGRESS)
        for ref in completed:
            _advance(company, steps[ref], StepStatus.COMPLETED)
        refresh_context(company=company)
        _let_demo_user_see(company)
        stdout.write(
            f"journey demo: {company.name}: {len(completed)} steps completed, "
            f"{len(in_progress)} in progress"
        )


def _let_demo_user_see(company: Company) -> None:
    """The demo login (made by load_demo before this runs) sees both companies."""
    user = get_user_model().objects.filter(username="demo").first()
    if user is not None:
        Membership.objects.get_or_create(user=user, company=company, defaults={"role": "admin"})


def load_journey() -> dict[str, JourneyStep]:
    """The journey's definition (4 domains x 5 steps), created or brought up to date;
    every company's reads show it (journey_changed). Steps by "Domain/number"."""
    steps: dict[str, JourneyStep] = {}
    with transaction.atomic():
        _write_journey(steps)
        journey_changed()
    return steps


def _write_journey(steps: dict[str, JourneyStep]) -> None:
    for d_order, (domain_name, domain_steps) in enumerate(JOURNEY.items(), start=1):
        domain, _ = JourneyDomain.objects.update_or_create(
            slug=slugify(domain_name), defaults={"name": domain_name, "order": d_order}
        )
        for s_order, (name, description) in enumerate(domain_steps, start=1):
            step, _ = JourneyStep.objects.update_or_create(
                domain=domain,
                slug=slugify(name),
                defaults={"name": name, "description": description, "order": s_order},
            )
            steps[f"{domain_name}/{s_order}"] = step


def _advance(company: Company, step: JourneyStep, status: str) -> None:
    """Move forward only: running the demo again never undoes progress made since."""
    current = step.progress.filter(company=company).values_list("status", flat=True).first()
    rank = {StepStatus.NOT_STARTED: 0, StepStatus.IN_PROGRESS: 1, StepStatus.COMPLETED: 2}
    if rank[current or StepStatus.NOT_STARTED] < rank[status]:
        update_step_progress(company=company, step=step, status=status)
