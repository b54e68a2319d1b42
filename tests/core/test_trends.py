"""Daily trends: matched clusters per rule per local day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.model import Sighting
from bot.trends import daily_trends, period_start

UNTIL = datetime(2025, 5, 15, 20, 0, tzinfo=UTC)
RULES = [("keir-starmer", "Keir Starmer"), ("small-boats", "Small boats")]


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 5, day, hour, tzinfo=UTC)


def test_a_cluster_counts_once_per_rule_per_day() -> None:
    sightings = [
        Sighting("keir-starmer", "c1", at(14, 9)),
        Sighting("keir-starmer", "c1", at(14, 18)),  # a second outlet, same cluster, same day
        Sighting("keir-starmer", "c2", at(14)),
        Sighting("keir-starmer", "c1", at(15)),  # the same cluster the next day counts again
        Sighting("small-boats", "c1", at(15)),
    ]
    trends = daily_trends(sightings, RULES, UNTIL, 3, "UTC")
    assert trends.days == (date(2025, 5, 13), date(2025, 5, 14), date(2025, 5, 15))
    assert [(s.rule, s.counts) for s in trends.series] == [
        ("keir-starmer", (0, 2, 1)),
        ("small-boats", (0, 0, 1)),
    ]


def test_days_are_local_days() -> None:
    # 23:30 UTC on the 14th is already the 15th in Berlin (UTC+2 in May).
    trends = daily_trends([Sighting("keir-starmer", "c1", at(14, 23))], RULES, UNTIL, 2, "Europe/Berlin")
    assert trends.series[0].counts == (0, 1)
    assert period_start(UNTIL, 2, trends_tz := __import__("zoneinfo").ZoneInfo("Europe/Berlin")) == datetime(
        2025, 5, 14, tzinfo=trends_tz
    )


def test_unfollowed_rules_and_days_outside_the_period_are_left_out() -> None:
    sightings = [Sighting("nigel-farage", "c1", at(15)), Sighting("keir-starmer", "c2", at(1))]
    trends = daily_trends(sightings, RULES, UNTIL, 7, "UTC")
    assert [s.rule for s in trends.series] == ["keir-starmer", "small-boats"]
    assert trends.active == ()


def test_a_period_needs_a_day() -> None:
    with pytest.raises(ValueError):
        daily_trends([], RULES, UNTIL, 0, "UTC")
