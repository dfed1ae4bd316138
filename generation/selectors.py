"""Usage statistics: what generation cost and how much the cache saved.

Figures per day x kind x company come from two aggregate queries (GenerationLog
and HitCounter) merged in Python, plus one query for company names, so a report
costs the same three queries whatever the number of rows behind it.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from companies.models import Company
from generation.flight import FALLBACK_SUFFIX
from generation.models import GenerationLog, HitCounter, Outcome

# The API and the page show the last 30 days unless asked otherwise; a longer
# window than a year is refused rather than scanned.
DEFAULT_DAYS = 30
MAX_DAYS = 366

# Logs with at least one provider request: the generations that really ran.
_RAN = Q(attempts__gt=0)


@dataclass
class _Tally:
    """Additive counters, so rows and totals merge by simple addition."""

    provider_calls: int = 0
    generations: int = 0
    successes: int = 0
    latency_ms_sum: int = 0
    cache_hits: int = 0
    fallback_reads: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = field(default_factory=lambda: Decimal("0"))
    budget_exceeded: int = 0
    providers: set[str] = field(default_factory=set)

    def add(self, other: "_Tally") -> None:
        self.provider_calls += other.provider_calls
        self.generations += other.generations
        self.successes += other.successes
        self.latency_ms_sum += other.latency_ms_sum
        self.cache_hits += other.cache_hits
        self.fallback_reads += other.fallback_reads
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.cost += other.cost
        self.budget_exceeded += other.budget_exceeded
        self.providers |= other.providers

    def figures(self) -> dict:
        ran = self.generations
        return {
            "provider_calls": self.provider_calls,
            "generations": ran,
            "cache_hits": self.cache_hits,
            # Each cache hit is a provider call that was not made.
            "calls_saved": self.cache_hits,
            # Reads that served earlier content because the current one could not be
            # made (provider down, budget spent): neither a hit nor a saved call.
            "fallback_reads": self.fallback_reads,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": self.cost,
            "success_rate": round(self.successes / ran, 4) if ran else None,
            "mean_latency_ms": round(self.latency_ms_sum / ran, 1) if ran else None,
            "budget_exceeded": self.budget_exceeded,
            "providers": sorted(self.providers),
        }


def _day_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """[start of since, start of the day after until) in the current time zone."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(since, time.min, tzinfo=tz)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def _tallies(
    *, company_ids: Iterable[int] | QuerySet, since: date, until: date, kind: str | None
) -> dict[tuple[date, str, int], _Tally]:
    start, end = _day_bounds(since, until)
    # A started call has no outcome yet: it is counted once it ends (or is closed
    # as unknown by the sweep), so every figure describes the same calls.
    logs = GenerationLog.objects.filter(
        company_id__in=company_ids, created_at__gte=start, created_at__lt=end
    ).exclude(outcome=Outcome.STARTED)
    hits = HitCounter.objects.filter(company_id__in=company_ids, day__gte=since, day__lte=until)
    if kind:
        logs = logs.filter(kind=kind)
        hits = hits.filter(kind__in=[kind, f"{kind}{FALLBACK_SUFFIX}"])

    log_groups = (
        logs.annotate(day=TruncDate("created_at"))
        .values("day", "kind", "company_id", "provider")
        .annotate(
            n_provider_calls=Sum("attempts"),
            n_generations=Count("id", filter=_RAN),
            n_successes=Count("id", filter=_RAN & Q(outcome=Outcome.SUCCESS)),
            n_latency=Sum("latency_ms", filter=_RAN),
            n_tokens_in=Sum("tokens_in"),
            n_tokens_out=Sum("tokens_out"),
            n_cost=Sum("cost"),
            n_budget_exceeded=Count("id", filter=Q(outcome=Outcome.BUDGET_EXCEEDED)),
        )
        .order_by()
    )
    hit_groups = hits.values("day", "kind", "company_id").annotate(n_hits=Sum("hits")).order_by()

    tallies: dict[tuple[date, str, int], _Tally] = {}
    for g in log_groups:
        tally = tallies.setdefault((g["day"], g["kind"], g["company_id"]), _Tally())
        tally.add(
            _Tally(
                provider_calls=g["n_provider_calls"] or 0,
                generations=g["n_generations"],
                successes=g["n_successes"],
                latency_ms_sum=g["n_latency"] or 0,
                tokens_in=g["n_tokens_in"] or 0,
                tokens_out=g["n_tokens_out"] or 0,
                cost=g["n_cost"] or Decimal("0"),
                budget_exceeded=g["n_budget_exceeded"],
                # A budget_exceeded log names the configured provider without
                # having called it: label only providers that were asked.
                providers={g["provider"]} if g["n_provider_calls"] else set(),
            )
        )
    for g in hit_groups:
        hit_kind = g["kind"]
        fallback = hit_kind.endswith(FALLBACK_SUFFIX)
        if fallback:
            hit_kind = hit_kind.removesuffix(FALLBACK_SUFFIX)
        tally = tallies.setdefault((g["day"], hit_kind, g["company_id"]), _Tally())
        if fallback:
            tally.fallback_reads += g["n_hits"] or 0
        else:
            tally.cache_hits += g["n_hits"] or 0
    return tallies


def usage_report(
    *,
    company_ids: Iterable[int] | QuerySet,
    since: date,
    until: date,
    kind: str | None = None,
) -> dict:
    """Rows per day x kind x company (only where something happened) and totals.

    `company_ids` is the caller's scope: ids, or a queryset of Company pks.
    """
    tallies = _tallies(company_ids=company_ids, since=since, until=until, kind=kind)
    names = dict(Company.objects.filter(pk__in=company_ids).values_list("pk", "name"))
    total = _Tally()
    rows = []
    for (day, row_kind, company_id), tally in tallies.items():
        total.add(tally)
        rows.append(
            {
                "day": day,
                "kind": row_kind,
                "company": company_id,
                "company_name": names.get(company_id, ""),
                **tally.figures(),
            }
        )
    rows.sort(key=lambda r: (r["day"], r["company_name"], r["company"], r["kind"]))
    return {"since": since, "until": until, "rows": rows, "totals": total.figures()}


def usage_stats(
    *,
    company_ids: Iterable[int] | QuerySet,
    since: date,
    until: date,
    kind: str | None = None,
) -> list[dict]:
    """One row per day x kind x company; see usage_report for the totals too."""
    return usage_report(company_ids=company_ids, since=since, until=until, kind=kind)["rows"]


# The figures the usage charts draw per day and kind; tokens are in + out.
DAY_FIGURES = ("provider_calls", "cache_hits", "calls_saved", "tokens", "cost")


def _zero_figures() -> dict:
    return {name: Decimal("0") if name == "cost" else 0 for name in DAY_FIGURES}


def usage_by_day(*, rows: list[dict], since: date, until: date) -> list[dict]:
    """Every day of the period, in order, zeros included (a quiet day is a day on the
    time axis like any other): `total` and `kinds` (kind -> figures) summed over the
    companies of `rows`."""
    days: dict[date, dict] = {}
    for offset in range((until - since).days + 1):
        day = since + timedelta(days=offset)
        days[day] = {"day": day, "total": _zero_figures(), "kinds": {}}
    for row in rows:
        day = days.get(row["day"])
        if day is None:
            continue
        cell = day["kinds"].setdefault(row["kind"], _zero_figures())
        for name in DAY_FIGURES:
            value = row["tokens_in"] + row["tokens_out"] if name == "tokens" else row[name]
            cell[name] += value
            day["total"][name] += value
    return list(days.values())
