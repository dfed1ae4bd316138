"""Per-company daily budgets of cost and tokens, read from GenerationLog."""

from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from generation.models import GenerationLog


def budget_spent(*, company_id: int | None) -> bool:
    if company_id is None:
        return False
    from companies.models import Company

    company = Company.objects.filter(pk=company_id).values(
        "daily_cost_budget", "daily_token_budget"
    )[0]
    cost_budget = company["daily_cost_budget"]
    token_budget = company["daily_token_budget"]
    if cost_budget is None:
        cost_budget = settings.EVERGREEN_DAILY_COST_BUDGET
    if token_budget is None:
        token_budget = settings.EVERGREEN_DAILY_TOKEN_BUDGET
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    spent = GenerationLog.objects.filter(company_id=company_id, created_at__gte=start).aggregate(
        cost=Sum("cost"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out")
    )
    cost = spent["cost"] or Decimal(0)
    tokens = (spent["tokens_in"] or 0) + (spent["tokens_out"] or 0)
    return cost >= Decimal(cost_budget) or tokens >= token_budget
