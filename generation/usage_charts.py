"""The usage page's charts, drawn on the server: one stacked bar per day of the period
(quiet days included, so the time axis never jumps), a segment per kind in the kind's
fixed colour, a value axis with round ticks and its unit, day labels, and the table
of the same numbers.

Bars are SVG in a viewBox stretched to the chart's box; the tick labels are HTML
placed by percentage beside it, so they stay legible on a phone however the bars
stretch."""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from generation.usage_kinds import KindStyle

# Units of the viewBox per day and its height: the bars' geometry, not pixels.
SLOT = 10
HEIGHT = 100
# At most this many day labels: they fit under a phone-wide chart.
MAX_DAY_LABELS = 5
# Spacing of day labels, in days: every day, every other, weekly, ...
DAY_STEPS = (1, 2, 7, 14, 28, 56, 91, 182, 364)
# Gaps between value ticks are 1, 2 or 5 times a power of ten, about this many of them.
VALUE_TICKS = 4


@dataclass(frozen=True)
class ChartSpec:
    figure: str
    title: str
    unit: str


CHARTS = (
    ChartSpec("provider_calls", "Provider calls", "calls"),
    ChartSpec("cache_hits", "Cache hits", "hits"),
    ChartSpec("calls_saved", "Calls saved", "calls"),
    ChartSpec("tokens", "Tokens (in + out)", "tokens"),
    ChartSpec("cost", "Cost", "USD"),
)


@dataclass(frozen=True)
class Tick:
    label: str
    # Percent from the bottom (values) or from the left (days) of the plot; a label is
    # centred on it (the axis column and the card's padding hold the edge labels).
    position: float


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    color: str
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    segments: list[Segment]


@dataclass(frozen=True)
class TableRow:
    day: date
    values: list[str]
    total: str


@dataclass(frozen=True)
class Chart:
    figure: str
    title: str
    unit: str
    description: str
    summary: str
    width: int
    height: int
    value_ticks: list[Tick]
    gridlines: list[float]
    day_ticks: list[Tick]
    bars: list[Bar]
    table: list[TableRow]


def fmt(value, figure: str) -> str:
    return f"{value:.4f}" if figure == "cost" else f"{value:,}"


def day_label(day: date) -> str:
    return f"{day:%b} {day.day}"


def value_steps(top, *, whole: bool) -> list[Decimal]:
    """0 to a round value at or above `top`, in round steps (1, 2 or 5 x 10^n); whole
    numbers only for counts."""
    top = Decimal(top) if top > 0 else Decimal(1)
    raw = top / VALUE_TICKS
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(step, Decimal(1))
    count = math.ceil(top / step)
    return [step * i for i in range(count + 1)]


def tick_label(value: Decimal, step: Decimal) -> str:
    """Short labels: 20k, 1.5M for big counts; as many decimals as the step needs."""
    if value == 0:
        return "0"
    if step >= 1_000_000:
        return _trimmed(value / 1_000_000) + "M"
    if step >= 1_000:
        return _trimmed(value / 1_000) + "k"
    places = max(0, -step.normalize().as_tuple().exponent)
    return f"{value:,.{places}f}"


def _trimmed(value: Decimal) -> str:
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def day_ticks(days: list[date]) -> list[Tick]:
    n = len(days)
    step = next((s for s in DAY_STEPS if math.ceil(n / s) <= MAX_DAY_LABELS), DAY_STEPS[-1])
    ticks = []
    for index in range(0, n, step):
        ticks.append(Tick(day_label(days[index]), round((index + 0.5) / n * 100, 2)))
    return ticks


def build_chart(spec: ChartSpec, by_day: list[dict], kinds: list[KindStyle]) -> Chart:
    figure = spec.figure
    days = [d["day"] for d in by_day]
    totals = [d["total"][figure] for d in by_day]
    steps = value_steps(max(totals, default=0), whole=figure != "cost")
    top = steps[-1]
    step = steps[1]

    def height_of(value) -> float:
        return round(float(value) / float(top) * HEIGHT, 2)

    bars, table = [], []
    for index, entry in enumerate(by_day):
        values = [entry["kinds"].get(k.kind, {}).get(figure, 0) for k in kinds]
        y = float(HEIGHT)
        segments = []
        for style, value in zip(kinds, values, strict=True):
            if not value:
                continue
            height = height_of(value)
            y = round(y - height, 2)
            label = f"{entry['day']:%Y-%m-%d} · {style.label}: {fmt(value, figure)}"
            segments.append(Segment(y, height, style.color, label))
        bars.append(Bar(x=index * SLOT + SLOT * 0.15, width=SLOT * 0.7, segments=segments))
        table.append(
            TableRow(
                entry["day"],
                [fmt(v, figure) for v in values],
                fmt(entry["total"][figure], figure),
            )
        )
    total = fmt(sum(totals, Decimal(0) if figure == "cost" else 0), figure)
    peak_index = max(range(len(totals)), key=lambda i: totals[i], default=None)
    peak = (
        f"peak {fmt(totals[peak_index], figure)} on {day_label(days[peak_index])}"
        if peak_index is not None and totals[peak_index]
        else "no activity"
    )
    return Chart(
        figure=figure,
        title=spec.title,
        unit=spec.unit,
        description=(
            f"{spec.title} per day from {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}, by kind: "
            f"total {total} {spec.unit}, {peak}. The table below lists every day."
        ),
        summary=f"total {total} · {peak}",
        width=len(days) * SLOT,
        height=HEIGHT,
        value_ticks=[Tick(tick_label(v, step), round(float(v / top) * 100, 2)) for v in steps],
        gridlines=[round(HEIGHT - float(v / top) * HEIGHT, 2) for v in steps],
        day_ticks=day_ticks(days),
        bars=bars,
        table=table,
    )


def build_charts(by_day: list[dict], kinds: list[KindStyle]) -> list[Chart]:
    return [build_chart(spec, by_day, kinds) for spec in CHARTS]
