"""One poll of one feed: fetch -> parse -> new? -> match -> dedup -> store -> alerts in the outbox.

The dependencies come in as parameters. Storage is synchronous and runs in a worker thread; matching and
clustering run on the event loop under one lock, so two feeds carrying the same story cannot both store it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from bot.dedup import ClusterIndex
from bot.delivery import alert_messages, audiences
from bot.fetch import Fetcher
from bot.matching import Matcher
from bot.model import DigestStory, FeedState, FetchResult, Story
from bot.parse import parse_feed
from bot.watchlist import FeedRule, Watchlist
from storage import Store, StoredStory

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
MAX_RETRY_AFTER = timedelta(days=1)
POLL_SLACK = timedelta(seconds=5)
ALERT_MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class PollReport:
    feed: str
    url: str
    outcome: str  # "new" | "unchanged" | "error" | "deferred" (backing off; not fetched)
    entries: int = 0
    new: int = 0
    matched: int = 0
    error: str | None = None
    warning: str | None = None
    elapsed: float = 0.0  # seconds fetching
    parse_seconds: float = 0.0
    store_seconds: float = 0.0  # matching, clustering and storage
    new_matched: tuple[DigestStory, ...] = ()


class Ingestor:
    """Turns parsed stories into stored, matched, clustered ones, and queues alerts. One per process."""

    def __init__(
        self,
        store: Store,
        watchlist: Watchlist,
        matcher: Matcher,
        index: ClusterIndex,
        via: str | None = None,
    ) -> None:
        self.via = via  # the sender alerts are queued for
        self.store = store
        self.watchlist = watchlist
        self.matcher = matcher
        self.index = index
        self.lock = asyncio.Lock()

    def replace_rules(self, watchlist: Watchlist, matcher: Matcher) -> None:
        self.watchlist, self.matcher = watchlist, matcher

    async def ingest(self, stories: Sequence[Story], now: datetime) -> tuple[int, list[DigestStory]]:
        """Store the stories not seen before; return how many were new and the new matched clusters."""
        async with self.lock:
            fresh = await asyncio.to_thread(self.store.unseen, stories)
            items = []
            for story in fresh:
                found = tuple(self.matcher.match(story))
                assignment = self.index.assign(story, now)
                items.append((StoredStory(story, assignment.cluster_id, found), assignment.is_new_cluster))
            inserted = set(await asyncio.to_thread(self.store.save_stories, [i for i, _ in items], now))
        new_matched = [
            _digest_story(item, now)
            for item, is_new in items
            if is_new and item.matches and item.story.id in inserted
        ]
        fresh_news = [s for s in new_matched if s.published >= now - ALERT_MAX_AGE]  # no alerts for a backlog
        if fresh_news:
            chats = await asyncio.to_thread(self.store.active_chats)
            subscriptions = await asyncio.to_thread(self.store.subscriptions)
            listeners = audiences(self.watchlist, chats, subscriptions)
            alerts = alert_messages(self.watchlist, listeners, fresh_news)
            if alerts:
                await asyncio.to_thread(self.store.enqueue, alerts, now, self.via)
        return len(inserted), new_matched


async def poll_feed(
    feed: FeedRule,
    fetcher: Fetcher,
    ingestor: Ingestor,
    clock: Callable[[], datetime],
    every: timedelta,
    force: bool = True,
    state: FeedState | None = None,
) -> PollReport:
    """Poll one feed once and record the outcome; ordinary feed failures are reported, never raised.

    Without `force`, a feed that is backing off (after failures, or as its server asked with Retry-After)
    is left alone until its `next_poll`. `state` is the feed's stored state when the caller has already
    read it (`poll_all` reads every feed's in one query); otherwise it is read here.
    """
    store = ingestor.store
    if state is None:
        state = await asyncio.to_thread(store.feed_state, feed.url) or FeedState(url=feed.url, name=feed.name)
    if not force and state.next_poll is not None and clock() < state.next_poll - POLL_SLACK:
        return PollReport(feed.name, feed.url, "deferred")
    result = await fetcher.fetch(feed.url, state.etag, state.last_modified)
    now = clock()
    if not result.ok:
        wait = retry_after(result.headers, now) if result.status in (429, 503) else None
        error = result.error or "fetch failed"
        return await _failed(store, feed, state, error, now, every, result.elapsed, wait)
    if result.not_modified:
        await asyncio.to_thread(store.record_fetch, _succeeded(state, feed, result, now, every, 0))
        return PollReport(feed.name, feed.url, "unchanged", elapsed=result.elapsed)
    started = time.perf_counter()
    parsed = await asyncio.to_thread(parse_feed, result.content, result.headers, feed.url, feed.name)
    parsed_at = time.perf_counter()
    if parsed.error:
        return await _failed(store, feed, state, parsed.error, now, every, result.elapsed)
    if parsed.warning:
        log.info("Feed is malformed but usable", extra={"feed": feed.name, "warning": parsed.warning})
    new, matched = await ingestor.ingest(parsed.stories, now)
    await asyncio.to_thread(store.record_fetch, _succeeded(state, feed, result, now, every, new))
    stored_at = time.perf_counter()
    if new:
        log.info(
            "Polled feed",
            extra={"feed": feed.name, "entries": len(parsed.stories), "new": new, "matched": len(matched)},
        )
    return PollReport(
        feed.name,
        feed.url,
        "new" if new else "unchanged",
        len(parsed.stories),
        new,
        len(matched),
        warning=parsed.warning,
        elapsed=result.elapsed,
        parse_seconds=parsed_at - started,
        store_seconds=stored_at - parsed_at,
        new_matched=tuple(matched),
    )


def _succeeded(
    state: FeedState, feed: FeedRule, result: FetchResult, now: datetime, every: timedelta, new: int
) -> FeedState:
    return replace(
        state,
        name=feed.name,
        etag=result.etag if result.status != 304 else state.etag,
        last_modified=result.last_modified if result.status != 304 else state.last_modified,
        last_polled=now,
        last_success=now,
        last_error=None,
        error_count=0,
        items_seen=state.items_seen + new,
        next_poll=now + every,
    )


async def _failed(
    store: Store,
    feed: FeedRule,
    state: FeedState,
    error: str,
    now: datetime,
    every: timedelta,
    elapsed: float,
    server_wait: timedelta | None = None,
) -> PollReport:
    errors = state.error_count + 1
    # Exponential backoff with jitter, so feeds that failed together do not come back together.
    backoff = min(every * (2 ** min(errors - 1, 10)), MAX_BACKOFF) * random.uniform(0.8, 1.2)
    if server_wait is not None:
        backoff = max(backoff, min(server_wait, MAX_RETRY_AFTER))
    log.warning(
        "Unable to poll feed", extra={"feed": feed.name, "url": feed.url, "error": error, "errors": errors}
    )
    failed = replace(
        state, name=feed.name, last_polled=now, last_error=error, error_count=errors, next_poll=now + backoff
    )
    await asyncio.to_thread(store.record_fetch, failed)
    return PollReport(feed.name, feed.url, "error", error=error, elapsed=elapsed)


UNHEALTHY_AFTER = timedelta(hours=24)


def feed_health(state: FeedState, now: datetime) -> str:
    """Describe a feed's health: ok, failing (N times), or unhealthy when it has failed for a day or more."""
    if not state.error_count:
        return "ok" if state.last_success else "never polled"
    since = state.last_success or state.last_polled
    if state.error_count >= 3 and (state.last_success is None or now - state.last_success >= UNHEALTHY_AFTER):
        days = (now - since).total_seconds() / 86400 if since else 0
        return f"unhealthy (failing {state.error_count}×" + (f", {days:.1f} days)" if since else ")")
    return f"failing ({state.error_count}×)"


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


def _digest_story(item: StoredStory, now: datetime) -> DigestStory:
    story = item.story
    return DigestStory(
        id=story.id,
        title=story.title,
        url=story.url,
        source=story.source,
        published=story.published or now,
        cluster_id=item.cluster_id,
        matches=item.matches,
    )
