"""Daily coverage per rule: how many matched clusters each rule had on each local day.

Semantics: a story's moment is when it was published (when the feed says so and it is not after the
fetch), else when it was fetched; its day is that moment's date in the given timezone. A cluster counts
once per rule per day, however many of its stories matched that day; a cluster whose stories came out on
two days counts on both. The period is the `days` local days ending with the day of `until`.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.model import Sighting


@dataclass(frozen=True, slots=True)
class Series:
    rule: str
    name: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Trends:
    days: tuple[date, ...]
    series: tuple[Series, ...]  # busiest first; rules with no coverage at the end
    timezone: str

    @property
    def active(self) -> tuple[Series, ...]:
        return tuple(s for s in self.series if s.total)


def period_start(until: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The first moment of the period: local midnight `days - 1` days before `until`'s day."""
    first = until.astimezone(tz).date() - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=tz)


def daily_trends(
    sightings: Iterable[Sighting], rules: Sequence[tuple[str, str]], until: datetime, days: int, timezone: str
) -> Trends:
    """Count matched clusters per followed rule (`rules`: id and name) per local day."""
    if days < 1:
        raise ValueError("days must be at least 1")
    tz = ZoneInfo(timezone)
    last = until.astimezone(tz).date()
    period = tuple(last - timedelta(days=days - 1 - i) for i in range(days))
    index = {day: i for i, day in enumerate(period)}
    followed = {rule_id for rule_id, _ in rules}
    seen: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for s in sightings:
        day = index.get(s.when.astimezone(tz).date())
        if day is not None and s.rule in followed:
            seen[s.rule].add((s.cluster, day))
    series = []
    for rule_id, name in rules:
        counts = [0] * days
        for _, day in seen.get(rule_id, ()):
            counts[day] += 1
        series.append(Series(rule_id, name, tuple(counts)))
    series.sort(key=lambda s: -s.total)  # stable: equal totals keep the followed order
    return Trends(period, tuple(series), timezone)


def weekly_period(now: datetime, digest_at: time, timezone: str) -> str | None:
    """The ISO week whose weekly digest is due at `now` ("2025-W20"), or None before Monday's `digest_at`.

    A weekly digest is due from Monday at `digest_at` (local time) until the week ends, so one missed while
    the service was down goes out later that week; the caller sends it once per week key.
    """
    local = now.astimezone(ZoneInfo(timezone))
    if local.weekday() == 0 and local.time() < digest_at:
        return None
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_caption(trends: Trends, period: str) -> str:
    """The weekly chart's caption (Telegram HTML): totals and the busiest rules."""
    total = sum(s.total for s in trends.active)
    busiest = ", ".join(f"{html.escape(s.name)} ({s.total})" for s in trends.active[:3])
    text = f"<b>newsbot weekly</b> · {period}\n{total} matched stories in the last {len(trends.days)} days"
    return (text + (f"; busiest: {busiest}." if busiest else "."))[:1024]
