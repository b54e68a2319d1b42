"""The poller: polls the feeds that are due, leased from the database, so any number of pollers can share them.

Each sweep claims due feeds in small batches (`Store.claim_feeds`: a lease with an expiry; on PostgreSQL
`FOR UPDATE SKIP LOCKED`), polls them `concurrency` at a time, and records each outcome, which ends the
lease and sets the feed's next poll. A poller that dies leaves its leases to run out; another poller then
takes those feeds over. A feed is never polled by two pollers at once, and never twice in one sweep.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.fetch import Fetcher
from bot.model import FeedState
from bot.pipeline import Ingestor, PollReport, poll_feed
from bot.polling import PollPolicy
from bot.watchlist import FeedRule

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # longer than a poll can take (total timeout 60 s) plus the wait in the batch


def worker_name() -> str:
    """A name for this process that is unique across machines and restarts."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Poller:
    """Sweeps the due feeds; `kick` starts a sweep in the background unless one is running."""

    def __init__(
        self,
        ingestor: Ingestor,
        fetcher: Fetcher,
        feeds: Callable[[], Mapping[str, FeedRule]],
        policy: Callable[[FeedRule], PollPolicy],
        clock: Callable[[], datetime],
        concurrency: int,
        owner: str | None = None,
        on_report: Callable[[PollReport], None] | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.ingestor = ingestor
        self.fetcher = fetcher
        self.feeds = feeds
        self.policy = policy
        self.clock = clock
        self.concurrency = concurrency
        self.owner = owner or worker_name()
        self.on_report = on_report
        self.lease = lease
        self.sweeping: asyncio.Task[list[PollReport]] | None = None
        self.stopping = False  # set at shutdown: polls under way finish, no new ones start

    def kick(self) -> asyncio.Task[list[PollReport]]:
        """Start a sweep unless one is under way; return the sweep's task."""
        if self.sweeping is None or self.sweeping.done():
            self.sweeping = asyncio.create_task(self.sweep(), name=f"sweep {self.owner}")
        return self.sweeping

    async def sweep(self) -> list[PollReport]:
        """Poll every feed that is due, `concurrency` at a time; return when none is left due."""
        store = self.ingestor.store
        claimed: deque[FeedState] = deque()
        refill = asyncio.Lock()
        reports: list[PollReport] = []

        async def next_feed() -> FeedState | None:
            async with refill:
                if self.stopping:
                    return None
                if not claimed:
                    batch = await asyncio.to_thread(
                        store.claim_feeds, self.owner, self.clock(), self.concurrency, self.lease
                    )
                    claimed.extend(batch)
                return claimed.popleft() if claimed else None

        async def worker() -> None:
            while (state := await next_feed()) is not None:
                report = await self._poll(state)
                if report is not None:
                    reports.append(report)
                    if self.on_report is not None:
                        self.on_report(report)

        try:
            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        finally:
            if claimed:  # cut short (shutdown): give the unpolled feeds back at once
                await asyncio.shield(
                    asyncio.to_thread(store.release_feeds, self.owner, [s.url for s in claimed])
                )
        return reports

    async def _poll(self, state: FeedState) -> PollReport | None:
        feed = self.feeds().get(state.url)
        store = self.ingestor.store
        if feed is None:  # dropped from the rule files since it was claimed
            await asyncio.to_thread(store.release_feeds, self.owner, [state.url])
            return None
        try:
            return await poll_feed(
                feed, self.fetcher, self.ingestor, self.clock, self.policy(feed), force=True, state=state
            )
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug or the database: the lease runs out and the feed is polled again
            log.exception("Poll failed unexpectedly", extra={"feed": feed.name, "url": feed.url})
            return None
