"""Scheduling feeds: adaptive intervals and publisher hints, moved feeds, feeds found on web pages,
leases that let pollers share the feeds, sweeps, and the /metrics and /healthz endpoints."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import app
from bot.fetch import Fetcher
from bot.metrics import Metrics, serve
from bot.pipeline import PollReport, poll_feed
from bot.poller import Poller
from bot.polling import PollPolicy
from bot.senders import ConsoleSender
from bot.settings import Settings
from bot.watchlist import FeedRule, Watchlist
from tests.helpers.feedserver import DATA, FeedServer

NOW = datetime(2023, 11, 15, 18, 0, tzinfo=UTC)
POLICY = PollPolicy(timedelta(minutes=15))


def build(tmp_path: Path, feeds: tuple[FeedRule, ...], clock: list[datetime]) -> app.App:
    settings = Settings(db=f"sqlite:///{tmp_path}/db.sqlite", metrics_port=None)
    return app.build(settings, Watchlist(feeds=feeds), ConsoleSender(), lambda: clock[0])


def poll(
    application: app.App, feed: FeedRule, clock: list[datetime], policy: PollPolicy = POLICY
) -> PollReport:
    async def go() -> PollReport:
        async with Fetcher() as fetcher:
            return await poll_feed(feed, fetcher, application.ingestor, lambda: clock[0], policy)

    return asyncio.run(go())


@pytest.mark.parametrize("route", ["moved", "moved308"])
def test_a_permanently_moved_feed_is_polled_at_its_new_address(
    route: str, feed_server: FeedServer, tmp_path: Path
) -> None:
    clock = [NOW]
    feed = FeedRule("BBC", f"{feed_server.url}/{route}/bbc.xml")
    application = build(tmp_path, (feed,), clock)
    assert poll(application, feed, clock).new == 16
    state = application.store.feed_state(feed.url)
    assert state is not None and state.fetch_url == f"{feed_server.url}/feeds/bbc.xml"
    before = len(feed_server.requests)
    clock[0] += timedelta(hours=1)
    assert poll(application, feed, clock).outcome == "unchanged"
    assert feed_server.paths()[before:] == ["/feeds/bbc.xml"]  # straight to the new address


def test_a_temporary_redirect_keeps_the_address(feed_server: FeedServer, tmp_path: Path) -> None:
    clock = [NOW]
    feed = FeedRule("BBC", f"{feed_server.url}/temporary/bbc.xml")
    application = build(tmp_path, (feed,), clock)
    assert poll(application, feed, clock).new == 16
    state = application.store.feed_state(feed.url)
    assert state is not None and state.fetch_url is None and state.location == feed.url


def test_a_web_page_given_as_a_feed_leads_to_the_feed_it_names(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    clock = [NOW]
    feed = FeedRule("Guardian", f"{feed_server.url}/page/guardian.rss")
    application = build(tmp_path, (feed,), clock)
    report = poll(application, feed, clock)
    assert report.outcome == "new" and report.new == 55
    state = application.store.feed_state(feed.url)
    assert state is not None and state.fetch_url == f"{feed_server.url}/feeds/guardian.rss"


def test_a_web_page_that_names_no_feed_is_a_clear_error(feed_server: FeedServer, tmp_path: Path) -> None:
    clock = [NOW]
    page = b"<!DOCTYPE html><html><head><title>Hi</title></head><body>No feed here</body></html>"
    feed = FeedRule("Home page", feed_server.publish("home.html", page))
    application = build(tmp_path, (feed,), clock)
    report = poll(application, feed, clock)
    assert (
        report.outcome == "error"
        and report.error == "parse: got a web page, not a feed, and it names no feed"
    )


def test_ttl_and_max_age_set_a_floor_on_the_interval(feed_server: FeedServer, tmp_path: Path) -> None:
    clock = [NOW]
    body = (DATA / "bbc.xml").read_bytes().replace(b"<ttl>15</ttl>", b"<ttl>90</ttl>")
    ttl_feed = FeedRule("TTL", feed_server.publish("ttl.xml", body))
    cached = FeedRule("Cached", feed_server.publish("cached.xml", b"", {"Cache-Control": "max-age=3600"}))
    feed_server.bodies["cached.xml"] = (DATA / "npr.xml").read_bytes()
    application = build(tmp_path, (ttl_feed, cached), clock)
    for feed, floor in ((ttl_feed, timedelta(minutes=90)), (cached, timedelta(hours=1))):
        assert poll(application, feed, clock).new > 0  # busy: the interval would shrink below 15 minutes
        state = application.store.feed_state(feed.url)
        assert state is not None and state.next_poll is not None
        assert state.poll_interval == floor.total_seconds()
        assert state.next_poll - NOW >= floor * 0.9  # jitter is +-10%


def test_intervals_adapt_to_how_busy_a_feed_is(feed_server: FeedServer, tmp_path: Path) -> None:
    clock = [NOW]
    feed = FeedRule("NYT", f"{feed_server.url}/etag/nytimes.xml")
    application = build(tmp_path, (feed,), clock)
    intervals = []
    for _ in range(4):
        poll(application, feed, clock)  # news first, then 304s
        state = application.store.feed_state(feed.url)
        assert state is not None and state.poll_interval is not None
        intervals.append(state.poll_interval)
        clock[0] += timedelta(hours=1)
    assert intervals[0] < 15 * 60 and intervals[0] < intervals[1] < intervals[2] < intervals[3]


def test_pollers_share_feeds_through_leases(tmp_path: Path) -> None:
    clock = [NOW]
    feeds = tuple(FeedRule(f"Feed {i}", f"http://127.0.0.1:9/{i}.xml") for i in range(10))
    application = build(tmp_path, feeds, clock)
    store = application.store
    app.sync_feeds(application)
    lease = timedelta(minutes=10)
    first = store.claim_feeds("poller-a", NOW, 6, lease)
    second = store.claim_feeds("poller-b", NOW, 6, lease)
    assert len(first) == 6 and len(second) == 4
    assert not {f.url for f in first} & {f.url for f in second}
    assert store.claim_feeds("poller-c", NOW + timedelta(minutes=5), 10, lease) == []  # all leased
    # poller-a dies; when its leases run out, its feeds go to whoever asks.
    taken = store.claim_feeds("poller-c", NOW + timedelta(minutes=11), 10, lease)
    assert {f.url for f in taken} == {f.url for f in first} | {f.url for f in second}
    assert store.release_feeds("poller-c") == 10
    # A feed dropped from the rule files is no longer handed out.
    application.watchlist = Watchlist(feeds=feeds[:3])
    app.sync_feeds(application)
    assert len(store.claim_feeds("poller-d", NOW + timedelta(minutes=12), 10, lease)) == 3


def test_a_sweep_polls_each_due_feed_once_and_frees_its_leases(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    clock = [NOW]
    names = ["bbc.xml", "guardian.rss", "nytimes.xml", "npr.xml"]
    feeds = tuple(FeedRule(n, f"{feed_server.url}/etag/{n}") for n in names) + (
        FeedRule("Broken", f"{feed_server.url}/status/500"),
    )
    application = build(tmp_path, feeds, clock)
    app.sync_feeds(application)

    async def sweep() -> list[PollReport]:
        async with Fetcher() as fetcher:
            poller = Poller(
                application.ingestor,
                fetcher,
                lambda: {f.url: f for f in feeds},
                lambda feed: POLICY,
                lambda: clock[0],
                concurrency=2,
                owner="test-poller",
            )
            return await poller.sweep()

    reports = asyncio.run(sweep())
    assert sorted(r.feed for r in reports) == sorted(f.name for f in feeds)
    assert [r.outcome for r in reports if r.feed == "Broken"] == ["error"]
    assert sum(r.new for r in reports) == 16 + 55 + 25 + 15
    assert asyncio.run(sweep()) == []  # nothing is due yet
    states = application.store.feed_states()
    assert all(s.next_poll is not None and s.next_poll > NOW for s in states)
    assert application.store.claim_feeds(
        "other", NOW + timedelta(hours=3), 10, timedelta(minutes=1)
    )  # no lease left
    application.store.release_feeds("other")
    clock[0] = NOW + timedelta(hours=3)
    again = asyncio.run(sweep())
    assert sorted(r.outcome for r in again) == ["error", "unchanged", "unchanged", "unchanged", "unchanged"]


def test_metrics_and_health_endpoints(tmp_path: Path) -> None:
    metrics = Metrics("poller")
    metrics.polled(PollReport("BBC", "u", "new", entries=30, new=12, matched=2, elapsed=0.3))
    metrics.polled(PollReport("Down", "v", "error", error="fetch: HTTP 500", elapsed=0.1))
    metrics.delivered(3, 1, 0)
    healthy = [True]
    server = serve(metrics, lambda: (healthy[0], {"outbox_depth": 4}), "127.0.0.1", 0)
    assert server is not None
    base = f"http://127.0.0.1:{server.port}"
    try:
        text = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        assert 'newsbot_polls_total{outcome="new"} 1.0' in text
        assert 'newsbot_polls_total{outcome="error"} 1.0' in text
        assert "newsbot_stories_total 12.0" in text and "newsbot_matches_total 2.0" in text
        assert 'newsbot_messages_total{outcome="sent"} 3.0' in text
        assert "newsbot_poll_seconds_count 2.0" in text and 'newsbot_info{role="poller"} 1.0' in text
        health = json.loads(urllib.request.urlopen(f"{base}/healthz", timeout=5).read())
        assert health == {"status": "ok", "outbox_depth": 4}
        healthy[0] = False
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
        assert failed.value.code == 503 and json.loads(failed.value.read())["status"] == "unhealthy"
    finally:
        server.close()


def test_a_taken_metrics_port_does_not_stop_the_service() -> None:
    first = serve(Metrics(), lambda: (True, {}), "127.0.0.1", 0)
    assert first is not None
    try:
        assert serve(Metrics(), lambda: (True, {}), "127.0.0.1", first.port) is None
    finally:
        first.close()


def test_metrics_read_from_the_database_are_refreshed_on_each_scrape() -> None:
    metrics = Metrics()
    depth = [3]
    server = serve(metrics, lambda: (True, {}), "127.0.0.1", 0, lambda: metrics.queue_depth.set(depth[0]))
    assert server is not None
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        assert "newsbot_outbox_depth 3.0" in urllib.request.urlopen(url, timeout=5).read().decode()
        depth[0] = 7
        assert "newsbot_outbox_depth 7.0" in urllib.request.urlopen(url, timeout=5).read().decode()
    finally:
        server.close()
