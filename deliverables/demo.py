"""Demo data for this app, loaded by `manage.py load_demo`: a workspace of
17 completed deliverables (their displays are made on the first read)."""

from deliverables.models import Deliverable, DeliverableStatus, Workspace
from deliverables.services import create_deliverable

WORKSPACE = "Product launch: Evergreen for teams"
GOAL = "Launch the team plan in Q3 with 200 paying workspaces in the first month."

_DELIVERABLES: list[tuple[str, dict]] = [
    (
        "Market analysis",
        {
            "summary": "Mid-size consulting firms lose 6 hours a week re-creating reports.",
            "segments": ["Consulting (50-500 staff)", "Agencies", "In-house strategy teams"],
            "market_size_eur": {"tam": 4200000000, "sam": 610000000, "som": 18000000},
        },
    ),
    (
        "Competitor matrix",
        {
            "competitors": [
                {"name": "Notion AI", "price_eur": 10, "weakness": "no persistent cache"},
                {"name": "Jasper", "price_eur": 39, "weakness": "marketing only"},
                {"name": "Copy.ai", "price_eur": 36, "weakness": "no team workspaces"},
            ],
            "positioning": "Generated once, reviewed by the team, served forever.",
        },
    ),
    (
        "Ideal customer profile",
        {
            "role": "Head of operations",
            "company_size": "50-500 employees",
            "pains": ["Repeated AI spend", "No review trail", "Inconsistent outputs"],
            "buying_trigger": "Monthly AI invoice above 2,000 EUR",
        },
    ),
    (
        "Pricing proposal",
        {
            "plans": [
                {"name": "Starter", "eur_per_month": 29, "seats": 3},
                {"name": "Team", "eur_per_month": 99, "seats": 15},
                {"name": "Business", "eur_per_month": 299, "seats": 50},
            ],
            "annual_discount_percent": 15,
        },
    ),
    (
        "Launch timeline",
        {
            "milestones": [
                {"week": 1, "item": "Private beta with 10 design partners"},
                {"week": 4, "item": "Public waitlist opens"},
                {"week": 8, "item": "General availability"},
            ],
            "owner": "Product",
        },
    ),
    (
        "Messaging framework",
        {
            "headline": "Pay for an answer once.",
            "pillars": ["Cost control", "Team review", "Always available"],
            "proof_points": ["90% fewer model calls", "Sub-second pages for cached content"],
        },
    ),
    (
        "Landing page copy",
        {
            "hero": "Your team's AI content, generated once and kept.",
            "sections": ["How it works", "Pricing", "Security", "FAQ"],
            "call_to_action": "Start a free workspace",
        },
    ),
    (
        "Email onboarding sequence",
        {
            "emails": [
                {"day": 0, "subject": "Welcome to your workspace"},
                {"day": 2, "subject": "Invite your team"},
                {"day": 5, "subject": "Your first saved model call"},
                {"day": 10, "subject": "See what you saved this week"},
            ]
        },
    ),
    (
        "Sales playbook",
        {
            "discovery_questions": [
                "How much did you spend on model calls last month?",
                "Who reviews AI output before it ships?",
            ],
            "objections": {"price": "Compare with last month's invoice", "security": "SOC 2"},
        },
    ),
    (
        "Partner program outline",
        {
            "tiers": ["Referral (15%)", "Reseller (25%)", "Strategic"],
            "first_partners": ["Northwind Consulting", "Blue Harbor Agency"],
        },
    ),
    (
        "Risk register",
        {
            "risks": [
                {"risk": "Provider outage at launch", "mitigation": "Serve stored content"},
                {"risk": "Quota exhaustion", "mitigation": "Daily budget per company"},
                {"risk": "Slow first page", "mitigation": "Batch of 5, rest queued"},
            ]
        },
    ),
    (
        "KPI dashboard definition",
        {
            "kpis": {
                "activation": "Workspace with 3+ deliverables in week 1",
                "retention": "Weekly active teams",
                "efficiency": "Model calls saved per workspace",
            },
            "review": "Weekly, Monday stand-up",
        },
    ),
    (
        "Customer interview notes",
        {
            "interviews": 12,
            "quotes": [
                "We paid for the same summary four times last week.",
                "I need to know who approved this text.",
            ],
            "top_request": "Export to slides",
        },
    ),
    (
        "Support runbook",
        {
            "channels": ["In-app chat", "Email"],
            "sla_hours": {"business": 4, "starter": 24},
            "escalation": "On-call engineer after 2 hours for outages",
        },
    ),
    (
        "Security questionnaire answers",
        {
            "data_residency": "EU (Frankfurt)",
            "encryption": {"at_rest": "AES-256", "in_transit": "TLS 1.2+"},
            "model_training_on_customer_data": False,
        },
    ),
    (
        "Budget plan",
        {
            "quarter_budget_eur": 180000,
            "split_percent": {"paid_ads": 40, "content": 25, "events": 20, "tools": 15},
        },
    ),
    (
        "Post-launch retrospective template",
        {
            "sections": ["What went well", "What hurt", "What we change next time"],
            "facilitator": "Delivery lead",
            "duration_minutes": 60,
        },
    ),
]


def load_demo(*, stdout) -> None:
    from companies.models import Company

    company = Company.objects.get(slug="acme-demo")
    # Once: a workspace or deliverable renamed or removed since is not added again.
    workspace = company.workspaces.order_by("pk").first()
    new = workspace is None
    if new:
        workspace = Workspace.objects.create(company=company, name=WORKSPACE, goal=GOAL)
    created = 0
    for title, content in _DELIVERABLES if new else ():
        create_deliverable(
            workspace=workspace, title=title, content=content, status=DeliverableStatus.COMPLETED
        )
        created += 1
    total = Deliverable.objects.filter(workspace=workspace).count()
    stdout.write(
        f"deliverables: workspace {workspace.pk} ({WORKSPACE!r}): {created} created, "
        f"{total} in all; open /workspaces/{workspace.pk}/"
    )
