"""The usage page: per-day charts by kind over a chosen period (server-drawn, every
day on the axis), each with its table; operations figures for staff only."""

from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from companies.selectors import companies_for
from generation.selectors import usage_by_day, usage_report
from generation.serializers import PeriodQuerySerializer
from generation.usage_charts import build_charts
from generation.usage_kinds import style_for, styles_for
from generation.usage_sections import figures_for

# The ready-made periods of the range control, in days ending today.
PRESETS = (7, 30, 90, 365)
FIELD_NAMES = {"since": "From", "until": "To"}


def _period(request: HttpRequest) -> tuple[date | None, date | None, list[str]]:
    """The period asked for (the last 30 days by default), or the reasons it is refused,
    with the same rules as /api/usage/. An emptied date field means its default."""
    data = {k: v for k in FIELD_NAMES if (v := request.GET.get(k, "").strip())}
    query = PeriodQuerySerializer(data=data)
    if not query.is_valid():
        messages = [
            f"{FIELD_NAMES.get(field, 'Period')}: {message}"
            for field, errors in query.errors.items()
            for message in errors
        ]
        return None, None, messages
    return query.validated_data["since"], query.validated_data["until"], []


def _presets(since: date | None, until: date | None) -> list[dict]:
    today = timezone.localdate()
    presets = []
    for days in PRESETS:
        first = today - timedelta(days=days - 1)
        presets.append(
            {
                "label": f"Last {days} days",
                "since": first,
                "until": today,
                "current": (since, until) == (first, today),
            }
        )
    return presets


@login_required
def usage_page(request: HttpRequest) -> HttpResponse:
    since, until, errors = _period(request)
    staff = request.user.is_staff
    context = {
        "errors": errors,
        "since": since,
        "until": until,
        "asked": {k: request.GET.get(k, "") for k in FIELD_NAMES},
        "presets": _presets(since, until),
        "staff": staff,
    }
    if errors:
        return render(request, "generation/usage.html", context, status=400)
    companies = companies_for(user=request.user)
    report = usage_report(company_ids=companies.values("pk"), since=since, until=until)
    by_day = usage_by_day(rows=report["rows"], since=since, until=until)
    kinds = styles_for(row["kind"] for row in report["rows"])
    active = sum(1 for d in by_day if d["kinds"])
    rows = [{**row, "kind_label": style_for(row["kind"]).label} for row in report["rows"]]
    context |= {
        "report": report,
        "rows": rows,
        "days": len(by_day),
        "active_days": active,
        "kinds": kinds,
        "charts": build_charts(by_day, kinds) if active else [],
        "several_companies": len({row["company"] for row in report["rows"]}) > 1,
        "sections": figures_for(
            user=request.user, since=since, until=until, include_staff_only=staff
        ),
    }
    return render(request, "generation/usage.html", context)
