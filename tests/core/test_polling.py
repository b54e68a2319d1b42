"""The polling policy: adaptive intervals within bounds, publisher hints as floors, backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.polling import MAX_BACKOFF, PollPolicy, backoff, cache_max_age, next_interval

MIN = timedelta(minutes=2)
MAX = timedelta(hours=2)
POLICY = PollPolicy(timedelta(minutes=15), MIN, MAX)


def test_a_busy_feed_is_polled_more_often_and_a_quiet_one_less() -> None:
    busy = quiet = None
    for _ in range(20):
        busy = next_interval(POLICY, busy, new_stories=5)
        quiet = next_interval(POLICY, quiet, new_stories=0)
    assert busy == MIN and quiet == MAX
    assert next_interval(POLICY, None, 3) < POLICY.base < next_interval(POLICY, None, 0)


def test_a_feed_that_turns_busy_speeds_up_at_once_and_slows_down_gradually() -> None:
    after_news = next_interval(POLICY, MAX, new_stories=1)
    assert after_news < MAX
    assert next_interval(POLICY, after_news, new_stories=0) < MAX


def test_publisher_hints_are_floors_but_never_beyond_the_maximum() -> None:
    ttl = timedelta(minutes=60)
    assert next_interval(POLICY, MIN, 5, ttl) == ttl  # busy, but the feed says hourly
    assert (
        next_interval(POLICY, MIN, 5, None, timedelta(seconds=30)) == MIN
    )  # a short max-age changes nothing
    assert next_interval(POLICY, MIN, 5, timedelta(days=1)) == MAX  # a weekly-ish hint is capped


def test_an_interval_set_in_the_rule_file_stays_fixed() -> None:
    fixed = PollPolicy(timedelta(minutes=5), MIN, MAX, fixed=True)
    assert next_interval(fixed, None, 0) == next_interval(fixed, MIN, 9) == timedelta(minutes=5)
    assert next_interval(fixed, None, 0, timedelta(minutes=30)) == timedelta(minutes=30)  # polite anyway


@given(
    previous=st.none() | st.integers(1, 10 * 86400).map(lambda s: timedelta(seconds=s)),
    new=st.integers(0, 100),
)
def test_adaptive_intervals_stay_within_bounds(previous: timedelta | None, new: int) -> None:
    assert MIN <= next_interval(POLICY, previous, new) <= MAX


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="minimum <= maximum"):
        PollPolicy(timedelta(minutes=5), timedelta(hours=3), timedelta(hours=1))


def test_backoff_doubles_then_caps() -> None:
    assert [backoff(timedelta(minutes=10), n) for n in (1, 2, 3)] == [
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
    ]
    assert backoff(timedelta(minutes=10), 50) == MAX_BACKOFF


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=300", timedelta(minutes=5)),
        ("public, s-maxage=600, max-age=60", timedelta(seconds=60)),  # s-maxage is for shared caches
        ('max-age="120"', timedelta(minutes=2)),
        ("no-store, max-age=300", None),
        ("max-age=0", None),
        ("private", None),
        ("max-age=banana", None),
        ("", None),
    ],
)
def test_cache_control_max_age(header: str, expected: timedelta | None) -> None:
    assert cache_max_age({"cache-control": header}) == expected
