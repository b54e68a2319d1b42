"""The job schedule, on APScheduler 3's AsyncIOScheduler. The only module that imports apscheduler.

Job policy, set once: `max_instances=1` (a feed is never polled twice at once), `coalesce=True` (polls
missed while busy run once, not in a burst), a misfire grace so a late job still runs, and jitter on polls
so feeds with one interval do not all fire together. Digests run from a one-minute tick that asks
`delivery.digest_due` for each chat, so they follow each chat's timezone and daylight saving, and a
digest missed while the service was down goes out when it is back. Failed and missed jobs are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[Any]]


class Scheduler:
    """Named jobs on the running event loop: `poll:<feed>`, `digest:<chat>`, and housekeeping."""

    def __init__(self, timezone: str = "UTC") -> None:
        self._scheduler = AsyncIOScheduler(
            timezone=ZoneInfo(timezone),
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
        )
        self._scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def add_poll(self, feed_url: str, every: timedelta, job: Job, first: datetime | None = None) -> None:
        jitter = max(1, min(int(every.total_seconds() * 0.1), 120))
        trigger = IntervalTrigger(seconds=int(every.total_seconds()), jitter=jitter)
        self._scheduler.add_job(
            job,
            trigger,
            id=f"poll:{feed_url}",
            name=f"poll {feed_url}",
            next_run_time=first,
            replace_existing=True,
        )

    def add_every(self, name: str, every: timedelta, job: Job, first: datetime | None = None) -> None:
        trigger = IntervalTrigger(seconds=max(0.05, every.total_seconds()))
        self._scheduler.add_job(job, trigger, id=name, name=name, next_run_time=first, replace_existing=True)

    def start(self) -> None:
        self._scheduler.start()

    def pause(self) -> None:
        """Start no more jobs; those running go on."""
        if self._scheduler.running:
            self._scheduler.pause()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def _on_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("Job missed its run time", extra={"job": event.job_id})
        elif isinstance(event.exception, asyncio.CancelledError):
            log.info("Job cut short at shutdown", extra={"job": event.job_id})
        elif event.exception is not None:
            log.error("Job failed", extra={"job": event.job_id}, exc_info=event.exception)
