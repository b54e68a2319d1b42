"""One poll of one feed: fetch -> parse -> new? -> match -> dedup -> store -> alerts in the outbox.

The dependencies come in as parameters. Storage is synchronous and runs in a worker thread; matching and
clustering run on the event loop under one lock, so two feeds carrying the same story cannot both store it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.allocator import trim_if_due
from bot.dedup import ClusterIndex
from bot.delivery import alert_messages, audiences
from bot.fetch import Fetcher
from bot.matching import Matcher
from bot.model import DigestStory, FeedState, FetchResult, ParseResult, Story
from bot.parse import parse_feed
from bot.polling import (
    MAX_RETRY_AFTER,
    PollPolicy,
    backoff,
    cache_max_age,
    next_interval,
    retry_after,
)
from bot.watchlist import FeedRule, Watchlist
from storage import Store, StoredStory

log = logging.getLogger(__name__)

POLL_SLACK = timedelta(seconds=5)
CATCH_UP_EVERY = 2.0  # seconds between looks at what other pollers stored
CATCH_UP_OVERLAP = timedelta(minutes=2)  # stories commit a little after they are stamped
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
        # Other processes store stories too: index theirs before clustering ours. Set before the first
        # poll: only then are the ids of our own stories kept, to tell them from theirs.
        self.shared = False
        self._known: dict[str, datetime] = {}  # stories in the index, when they were indexed
        self._caught_up: datetime | None = None
        self._caught_up_at = 0.0

    def restore(self, story: Story, cluster_id: str, now: datetime) -> None:
        """Index a stored story in its cluster (at start, or one another poller stored)."""
        if story.id not in self._known:
            self.index.restore(story, cluster_id, now)
            self._known[story.id] = now

    async def _catch_up(self, now: datetime) -> None:
        """Index the stories other pollers stored lately, so their coverage and ours fold together."""
        if not self.shared or time.monotonic() - self._caught_up_at < CATCH_UP_EVERY:
            return
        since = (self._caught_up or now) - CATCH_UP_OVERLAP
        ids = await asyncio.to_thread(self.store.story_ids_since, since)
        theirs = [i for i in ids if i not in self._known]  # ours, and theirs seen before, are indexed
        if theirs:
            for story, cluster_id in await asyncio.to_thread(self.store.stories_with_ids, theirs):
                self.restore(story, cluster_id, now)
        self._caught_up, self._caught_up_at = now, time.monotonic()
        if len(self._known) > 20_000:  # forget ids old enough never to come back in a catch-up
            horizon = since - CATCH_UP_OVERLAP
            self._known = {k: v for k, v in self._known.items() if v >= horizon}

    def replace_rules(self, watchlist: Watchlist, matcher: Matcher) -> None:
        self.watchlist, self.matcher = watchlist, matcher

    async def ingest(self, stories: Sequence[Story], now: datetime) -> tuple[int, list[DigestStory]]:
        """Store the stories not seen before; return how many were new and the new matched clusters."""
        async with self.lock:
            await self._catch_up(now)
            fresh = await asyncio.to_thread(self.store.unseen, stories)
            items = []
            for story in fresh:
                found = tuple(self.matcher.match(story))
                assignment = self.index.assign(story, now)
                if self.shared:  # a lone poller never reads them again
                    self._known[story.id] = now
                items.append((StoredStory(story, assignment.cluster_id, found), assignment.is_new_cluster))
            inserted = set(await asyncio.to_thread(self.store.save_stories, [i for i, _ in items], now))
        # Parsing and storing leave freed memory among the index's new entries: hand it back now and then
        # (a trim takes ~10 ms every few seconds; a call in between costs nothing).
        trim_if_due()
        matched = [(item, is_new) for item, is_new in items if item.matches and item.story.id in inserted]
        new_matched = [_digest_story(item, now) for item, is_new in matched if is_new]
        # Every matched new story may alert, but an alert's key names its chat and cluster, so a chat hears
        # of a cluster once: from its first story that matches a rule the chat follows.
        fresh_news = [
            story
            for story in (_digest_story(item, now) for item, _ in matched)
            if story.published >= now - ALERT_MAX_AGE  # no alerts for a backlog
        ]
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
    policy: PollPolicy,
    force: bool = True,
    state: FeedState | None = None,
) -> PollReport:
    """Poll one feed once and record the outcome; ordinary feed failures are reported, never raised.

    Without `force`, a feed that is not due (its adaptive interval, or backing off after failures or as
    its server asked with Retry-After) is left alone until its `next_poll`. `state` is the feed's stored
    state when the caller has it already (a poller that claimed the feed).
    """
    store = ingestor.store
    if state is None:
        state = await asyncio.to_thread(store.feed_state, feed.url)
    state = state or FeedState(url=feed.url, name=feed.name)
    if not force and state.next_poll is not None and clock() < state.next_poll - POLL_SLACK:
        return PollReport(feed.name, feed.url, "deferred")
    result = await fetcher.fetch(state.location, state.etag, state.last_modified)
    now = clock()
    if not result.ok:
        wait = retry_after(result.headers, now) if result.status in (429, 503) else None
        error = result.error or "fetch failed"
        return await _failed(store, feed, state, error, now, policy, result.elapsed, wait)
    location = result.moved_to or state.location
    if result.moved_to and result.moved_to != state.location:
        log.warning(
            "Feed moved permanently; polling its new address (update the rule file)",
            extra={"feed": feed.name, "url": feed.url, "moved_to": result.moved_to},
        )
    if result.not_modified:
        done = _succeeded(state, feed, result, now, policy, 0, location, cache_max_age(result.headers))
        await asyncio.to_thread(store.record_fetch, done)
        return PollReport(feed.name, feed.url, "unchanged", elapsed=result.elapsed)
    started = time.perf_counter()
    parsed = await asyncio.to_thread(parse_feed, result.content, result.headers, location, feed.name)
    if parsed.error and parsed.feed_links:
        found = await _discover(fetcher, parsed.feed_links[0], feed)
        if found is not None:
            log.warning(
                "Found the feed of a web page; polling it (put its address in the rule file)",
                extra={"feed": feed.name, "url": feed.url, "found": parsed.feed_links[0]},
            )
            result, parsed, location = found[0], found[1], parsed.feed_links[0]
    parsed_at = time.perf_counter()
    if parsed.error:
        return await _failed(store, feed, state, parsed.error, now, policy, result.elapsed)
    if parsed.warning:
        log.info("Feed is malformed but usable", extra={"feed": feed.name, "warning": parsed.warning})
    new, matched = await ingestor.ingest(parsed.stories, now)
    hints = (parsed.poll_hint, cache_max_age(result.headers))
    done = _succeeded(state, feed, result, now, policy, new, location, *hints)
    await asyncio.to_thread(store.record_fetch, done)
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


async def _discover(fetcher: Fetcher, url: str, feed: FeedRule) -> tuple[FetchResult, ParseResult] | None:
    """Fetch the feed a web page names; return it if it is a usable feed."""
    result = await fetcher.fetch(url)
    if not result.ok or result.not_modified:
        return None
    parsed = await asyncio.to_thread(parse_feed, result.content, result.headers, url, feed.name)
    return None if parsed.error else (result, parsed)


def _succeeded(
    state: FeedState,
    feed: FeedRule,
    result: FetchResult,
    now: datetime,
    policy: PollPolicy,
    new: int,
    location: str,
    *hints: timedelta | None,
) -> FeedState:
    previous = timedelta(seconds=state.poll_interval) if state.poll_interval else None
    interval = next_interval(policy, previous, new, *hints)
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
        # Jitter, so feeds polled together once do not stay in step.
        next_poll=now + interval * random.uniform(0.9, 1.1),
        poll_interval=int(interval.total_seconds()),
        fetch_url=location if location != feed.url else None,
    )


async def _failed(
    store: Store,
    feed: FeedRule,
    state: FeedState,
    error: str,
    now: datetime,
    policy: PollPolicy,
    elapsed: float,
    server_wait: timedelta | None = None,
) -> PollReport:
    errors = state.error_count + 1
    # Exponential backoff with jitter, so feeds that failed together do not come back together.
    interval = timedelta(seconds=state.poll_interval) if state.poll_interval else policy.base
    wait = backoff(interval, errors, random.uniform(0.8, 1.2))
    if server_wait is not None:
        wait = max(wait, min(server_wait, MAX_RETRY_AFTER))
    log.warning(
        "Unable to poll feed", extra={"feed": feed.name, "url": feed.url, "error": error, "errors": errors}
    )
    failed = replace(
        state, name=feed.name, last_polled=now, last_error=error, error_count=errors, next_poll=now + wait
    )
    await asyncio.to_thread(store.record_fetch, failed)
    return PollReport(feed.name, feed.url, "error", error=error, elapsed=elapsed)


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
