"""When to poll a feed next: adaptive intervals, publisher hints, backoff after failures, and feed health.

Pure policy, no I/O. A feed that brings new stories is polled more often, a quiet one less, always within
the configured minimum and maximum. The publisher's own hints are floors: RSS `<ttl>`, the syndication
module's `sy:updatePeriod`/`sy:updateFrequency`, and the response's `Cache-Control: max-age` say that
polling sooner is pointless, so newsbot does not. A feed whose interval is set in the rule files (`every:`)
keeps it, hints aside. After a failure the feed backs off exponentially, with jitter, up to six hours, or
longer when the server asks with `Retry-After`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from bot.model import FeedState

MAX_BACKOFF = timedelta(hours=6)
MAX_RETRY_AFTER = timedelta(days=1)
UNHEALTHY_AFTER = timedelta(hours=24)
BUSY = 2 / 3  # the interval shrinks by this after a poll with new stories
QUIET = 1.25  # and grows by this after a poll without
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How one feed is scheduled: its starting interval, the bounds, and whether it adapts at all."""

    base: timedelta
    minimum: timedelta = timedelta(minutes=2)
    maximum: timedelta = timedelta(hours=2)
    fixed: bool = False  # the rule file set `every:`; the interval stays (hints may still lengthen it)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.minimum <= self.maximum:
            raise ValueError("poll interval bounds: need 0 < minimum <= maximum")


def next_interval(
    policy: PollPolicy, previous: timedelta | None, new_stories: int, *hints: timedelta | None
) -> timedelta:
    """The interval until the next poll after a successful one that brought `new_stories`."""
    if policy.fixed:
        interval = policy.base
    else:
        current = previous or _clamp(policy.base, policy)
        interval = _clamp(current * (BUSY if new_stories else QUIET), policy)
    floor = max((h for h in hints if h is not None), default=timedelta(0))
    return max(interval, min(floor, max(policy.maximum, policy.base)))


def _clamp(value: timedelta, policy: PollPolicy) -> timedelta:
    return min(max(value, policy.minimum), policy.maximum)


def backoff(interval: timedelta, failures: int, jitter: float = 1.0) -> timedelta:
    """How long to wait after the `failures`-th failure in a row; `jitter` scales it (0.8 to 1.2 is usual)."""
    grown: timedelta = interval * 2 ** min(failures - 1, 10)
    return min(grown, MAX_BACKOFF) * jitter


def cache_max_age(headers: Mapping[str, str]) -> timedelta | None:
    """`Cache-Control: max-age` of a response, if any (`s-maxage` is for shared caches; `no-store`: none)."""
    value = headers.get("cache-control", "")
    if not value or "no-store" in value.lower():
        return None
    found = _MAX_AGE.search(value)
    if found is None:
        return None
    seconds = int(found.group(1))
    return timedelta(seconds=seconds) if 0 < seconds <= 7 * 86400 else None


def retry_after(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """Read a Retry-After header (RFC 9110 §10.2.3: seconds, or an HTTP date)."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def feed_health(state: FeedState, now: datetime) -> str:
    """Describe a feed's health: ok, failing (N times), or unhealthy when it has failed for a day or more."""
    if not state.error_count:
        return "ok" if state.last_success else "never polled"
    since = state.last_success or state.last_polled
    if state.error_count >= 3 and (state.last_success is None or now - state.last_success >= UNHEALTHY_AFTER):
        days = (now - since).total_seconds() / 86400 if since else 0
        return f"unhealthy (failing {state.error_count}×" + (f", {days:.1f} days)" if since else ")")
    return f"failing ({state.error_count}×)"


def health_counts(states: Iterable[FeedState], now: datetime) -> dict[str, int]:
    """How many feeds are ok, failing, unhealthy or never polled."""
    return dict(Counter(feed_health(state, now).split(" (")[0] for state in states))
