from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from companies.selectors import companies_for
from generation.selectors import DEFAULT_DAYS, usage_by_day, usage_report
from generation.usage_sections import figures_for

CHART_WIDTH = 600
CHART_HEIGHT = 120

# (figure, title, how a value is written) for each chart on the page.
CHARTS = (
    ("provider_calls", "Provider calls", "{:,}"),
    ("cache_hits", "Cache hits (calls saved)", "{:,}"),
    ("tokens", "Tokens (in + out)", "{:,}"),
    ("cost", "Cost (USD)", "{:.4f}"),
)


def _chart(days: list[dict], figure: str, title: str, fmt: str) -> dict:
    """Bar geometry for an inline SVG chart, scaled to the largest day."""
    values = [day[figure] for day in days]
    top = max(values, default=0) or 1
    width = CHART_WIDTH / max(len(days), 1)
    bars = []
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        height = round(float(value) / float(top) * (CHART_HEIGHT - 4), 1) if value else 0
        bars.append(
            {
                "x": round(index * width + 1, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "width": round(max(width - 2, 1), 1),
                "height": height,
                "label": f"{day['day']:%Y-%m-%d}: {fmt.format(value)}",
            }
        )
    return {
        "title": title,
        "bars": bars,
        "max_label": fmt.format(max(values, default=0)),
        "total_label": fmt.format(sum(values, Decimal(0) if figure == "cost" else 0)),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
    }


@login_required
def usage_page(request: HttpRequest) -> HttpResponse:
    until = timezone.localdate()
    since = until - timedelta(days=DEFAULT_DAYS - 1)
    companies = companies_for(user=request.user)
    report = usage_report(company_ids=companies.values("pk"), since=since, until=until)
    days = usage_by_day(rows=report["rows"], since=since, until=until)
    for day in days:
        day["tokens"] = day["tokens_in"] + day["tokens_out"]
    context = {
        "report": report,
        "days": days,
        "charts": [_chart(days, *chart) for chart in CHARTS],
        "several_companies": len({row["company"] for row in report["rows"]}) > 1,
        "sections": figures_for(user=request.user, since=since, until=until),
    }
    return render(request, "generation/usage.html", context)
