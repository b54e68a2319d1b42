"""Polling politeness: backoff is honoured, Retry-After is obeyed, failing feeds turn unhealthy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import app
from bot.errors import ConfigError
from bot.fetch import Fetcher
from bot.model import FeedState
from bot.pipeline import poll_feed
from bot.polling import PollPolicy, feed_health, retry_after
from bot.senders import ConsoleSender
from bot.settings import Settings
from bot.watchlist import FeedRule, Watchlist
from tests.helpers.feedserver import FeedServer

NOW = datetime(2025, 5, 15, 12, 0, tzinfo=UTC)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after({"retry-after": "120"}, NOW) == timedelta(seconds=120)
    assert retry_after({"retry-after": "Thu, 15 May 2025 13:00:00 GMT"}, NOW) == timedelta(hours=1)
    assert retry_after({"retry-after": "soon"}, NOW) is None and retry_after({}, NOW) is None


def test_feed_health() -> None:
    assert feed_health(FeedState("u"), NOW) == "never polled"
    assert feed_health(FeedState("u", last_success=NOW, error_count=0), NOW) == "ok"
    assert (
        feed_health(FeedState("u", last_success=NOW - timedelta(hours=1), error_count=2), NOW)
        == "failing (2×)"
    )
    gone = FeedState("u", last_success=NOW - timedelta(days=3), error_count=12)
    assert feed_health(gone, NOW) == "unhealthy (failing 12×, 3.0 days)"


def test_a_rate_limited_feed_waits_as_told_and_scheduled_polls_respect_backoff(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    clock = [NOW]
    feed = FeedRule("Busy", f"{feed_server.url}/status/429")
    application = app.build(
        Settings(db=f"sqlite:///{tmp_path}/db.sqlite"),
        Watchlist(feeds=(feed,)),
        ConsoleSender(),
        lambda: clock[0],
    )

    async def poll(force: bool) -> str:
        async with Fetcher() as fetcher:
            report = await poll_feed(
                feed,
                fetcher,
                application.ingestor,
                lambda: clock[0],
                PollPolicy(timedelta(seconds=30)),
                force,
            )
        return report.outcome

    before = len(feed_server.requests)
    assert asyncio.run(poll(force=False)) == "error"
    state = application.store.feed_state(feed.url)
    assert state is not None and state.next_poll is not None
    assert state.next_poll - NOW >= timedelta(seconds=120)  # the server's Retry-After, not the 30 s interval
    clock[0] = NOW + timedelta(seconds=60)
    assert asyncio.run(poll(force=False)) == "deferred"
    assert len(feed_server.requests) == before + 1  # the deferred poll sent nothing
    assert asyncio.run(poll(force=True)) == "error"  # `newsbot once` polls regardless


def test_the_per_host_limit_is_a_setting(tmp_path: Path) -> None:
    settings = Settings.from_env({"NEWSBOT_PER_HOST": "7"}, db=f"sqlite:///{tmp_path}/db.sqlite")
    application = app.build(settings, Watchlist(), ConsoleSender())
    try:
        assert application.limits.per_host == 7 and Settings().per_host == 4
    finally:
        application.close()
    with pytest.raises(ConfigError, match="setting NEWSBOT_PER_HOST has value '0'"):
        Settings.from_env({"NEWSBOT_PER_HOST": "0"})
