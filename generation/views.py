"""The usage page: per-day charts by kind (server-drawn SVG) with their numbers in a
table under each; days without activity are collapsed."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from companies.selectors import companies_for
from generation.selectors import DEFAULT_DAYS, usage_report
from generation.usage_sections import figures_for

CHART_WIDTH = 1000
CHART_HEIGHT = 140
MIN_SLOTS = 14
# One color per kind, in the order kinds first appear (cycled past the last).
PALETTE = ("#2f7a4a", "#4f6fb0", "#c0822b", "#8a4fa8", "#3c9aa0", "#a84f5c", "#6b7a2f")

# (figure, title, how a value is written) for each chart on the page.
CHARTS = (
    ("provider_calls", "Provider calls", "{:,}"),
    ("cache_hits", "Cache hits", "{:,}"),
    ("calls_saved", "Calls saved", "{:,}"),
    ("tokens", "Tokens (in + out)", "{:,}"),
    ("cost", "Cost (USD)", "{:.4f}"),
)


def _zero(figure: str):
    return Decimal(0) if figure == "cost" else 0


def _active_days(rows: list[dict]) -> tuple[list, dict]:
    """The days with any activity, in order, and each (day, kind)'s figures summed over
    companies (tokens = in + out)."""
    cells: dict = {}
    for row in rows:
        cell = cells.setdefault((row["day"], row["kind"]), {f: _zero(f) for f, *_ in CHARTS})
        for figure, *_ in CHARTS:
            value = row["tokens_in"] + row["tokens_out"] if figure == "tokens" else row[figure]
            cell[figure] += value
    active = sorted({day for (day, _), cell in cells.items() if any(cell[f] for f, *_ in CHARTS)})
    return active, cells


def _chart(days, kinds, cells, figure: str, title: str, fmt: str) -> dict:
    """Stacked bars, one per active day, one segment per kind, scaled to the top day;
    and the table under it (a row per active day, a column per kind, a total)."""
    table, totals = [], []
    for day in days:
        values = [cells.get((day, kind), {}).get(figure, _zero(figure)) for kind in kinds]
        total = sum(values, _zero(figure))
        totals.append(total)
        table.append({"day": day, "values": [fmt.format(v) for v in values], "total": total})
    top = max(totals, default=0) or 1
    # A few active days still get narrow bars, as on a fuller chart.
    slot = CHART_WIDTH / max(len(days), MIN_SLOTS)
    bars = []
    for index, row in enumerate(table):
        y = CHART_HEIGHT
        segments = []
        for kind_index, kind in enumerate(kinds):
            value = cells.get((row["day"], kind), {}).get(figure, _zero(figure))
            if not value:
                continue
            height = round(float(value) / float(top) * (CHART_HEIGHT - 4), 1)
            y = round(y - height, 1)
            segments.append(
                {
                    "y": y,
                    "height": height,
                    "color": PALETTE[kind_index % len(PALETTE)],
                    "label": f"{row['day']:%Y-%m-%d} · {kind}: {fmt.format(value)}",
                }
            )
        bars.append(
            {
                "x": round(index * slot + slot * 0.15, 1),
                "width": round(max(slot * 0.7, 1), 1),
                "segments": segments,
                "label": f"{row['day']:%Y-%m-%d}: {fmt.format(row['total'])}",
            }
        )
    for row in table:
        row["total"] = fmt.format(row["total"])
    return {
        "figure": figure,
        "title": title,
        "bars": bars,
        "table": table,
        "max_label": fmt.format(max(totals, default=_zero(figure))),
        "total_label": fmt.format(sum(totals, _zero(figure))),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
    }


@login_required
def usage_page(request: HttpRequest) -> HttpResponse:
    until = timezone.localdate()
    since = until - timedelta(days=DEFAULT_DAYS - 1)
    companies = companies_for(user=request.user)
    report = usage_report(company_ids=companies.values("pk"), since=since, until=until)
    days, cells = _active_days(report["rows"])
    kinds = list(dict.fromkeys(row["kind"] for row in report["rows"]))
    context = {
        "report": report,
        "days": days,
        "quiet_days": DEFAULT_DAYS - len(days),
        "kinds": [
            {"name": kind, "color": PALETTE[i % len(PALETTE)]} for i, kind in enumerate(kinds)
        ],
        "charts": [_chart(days, kinds, cells, *chart) for chart in CHARTS],
        "several_companies": len({row["company"] for row in report["rows"]}) > 1,
        "sections": figures_for(user=request.user, since=since, until=until),
    }
    return render(request, "generation/usage.html", context)
