"""The pieces of the usage charts: the continuous day range, round value ticks, day
labels that fit, and kinds' fixed names and colours."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from generation.selectors import usage_by_day
from generation.usage_charts import day_ticks, tick_label, value_steps
from generation.usage_kinds import UNREGISTERED_COLORS, register_kind, style_for, styles_for


def row(day: date, kind: str, **figures) -> dict:
    base = {"provider_calls": 0, "cache_hits": 0, "calls_saved": 0, "tokens_in": 0}
    return {"day": day, "kind": kind, "tokens_out": 0, "cost": Decimal(0), **base, **figures}


def test_usage_by_day_has_every_day_with_zeros_and_sums_kinds_over_companies():
    since = date(2026, 3, 1)
    rows = [
        row(date(2026, 3, 2), "insight", provider_calls=2, tokens_in=10, tokens_out=5),
        row(date(2026, 3, 2), "insight", provider_calls=1, cost=Decimal("0.5")),
        row(date(2026, 3, 4), "recommendation", cache_hits=7, calls_saved=7),
        row(date(2026, 4, 1), "insight", provider_calls=9),  # outside: ignored
    ]

    days = usage_by_day(rows=rows, since=since, until=date(2026, 3, 5))

    assert [d["day"] for d in days] == [since + timedelta(days=i) for i in range(5)]
    assert days[0]["total"]["provider_calls"] == 0
    assert days[0]["kinds"] == {}
    assert days[1]["kinds"]["insight"]["provider_calls"] == 3
    assert days[1]["kinds"]["insight"]["tokens"] == 15
    assert days[1]["total"]["cost"] == Decimal("0.5")
    assert days[2]["total"] == {
        "provider_calls": 0,
        "cache_hits": 0,
        "calls_saved": 0,
        "tokens": 0,
        "cost": Decimal(0),
    }
    assert days[3]["kinds"]["recommendation"]["calls_saved"] == 7


@pytest.mark.parametrize(
    "top, whole, expected",
    [
        (5, True, ["0", "2", "4", "6"]),
        (8, True, ["0", "2", "4", "6", "8"]),
        (1, True, ["0", "1"]),
        (0, True, ["0", "1"]),
        (5959, True, ["0", "2k", "4k", "6k"]),
        (2_400_000, True, ["0", "1M", "2M", "3M"]),
        (Decimal("0.0123"), False, ["0", "0.005", "0.010", "0.015"]),
    ],
)
def test_value_ticks_are_round_and_reach_the_top(top, whole, expected):
    steps = value_steps(top, whole=whole)

    assert [tick_label(v, steps[1]) for v in steps] == expected
    assert steps[-1] >= top


def test_day_labels_stay_few_and_start_on_the_first_day():
    first = date(2026, 11, 7)
    month = [first + timedelta(days=i) for i in range(30)]

    ticks = day_ticks(month)

    assert [t.label for t in ticks] == ["Nov 7", "Nov 14", "Nov 21", "Nov 28", "Dec 5"]
    assert ticks[0].position == 1.67  # the middle of the first of 30 days, in percent
    assert len(day_ticks([first + timedelta(days=i) for i in range(366)])) <= 5
    assert [t.label for t in day_ticks(month[:3])] == ["Nov 7", "Nov 8", "Nov 9"]


def test_registered_kinds_have_a_fixed_human_name_and_colour():
    display = style_for("deliverable_display")

    assert (display.label, display.color) == ("Deliverable displays", "#e69f00")
    assert style_for("recommendation").label == "Recommendations"
    # The same kinds in any order come out in one fixed order.
    kinds = ["deliverable_display", "insight", "recommendation"]
    assert [s.kind for s in styles_for(kinds)] == [s.kind for s in styles_for(kinds[::-1])]
    registered = [style_for(k).color for k in ("recommendation", "insight", "health_summary")]
    assert len(set(registered)) == 3


def test_an_unregistered_kind_is_humanized_with_a_colour_from_its_name_only():
    style = style_for("test-tip")

    assert style.label == "Test tip"
    assert style.color in UNREGISTERED_COLORS
    assert style_for("test-tip").color == style.color


def test_a_colour_cannot_be_registered_twice():
    with pytest.raises(ImproperlyConfigured, match="already used"):
        register_kind("another_kind", label="Another", color="#E69F00")
