"""Drain the outbox through a sender: each message is marked sent, retried later, or given up, durably."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.senders import Sender
from storage import Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
CLAIM_LEASE = timedelta(
    minutes=2
)  # a sender that dies mid-flush leaves its messages to be retried after this


@dataclass(frozen=True, slots=True)
class FlushReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


async def flush_outbox(
    store: Store, sender: Sender, clock: Callable[[], datetime], limit: int = 500
) -> FlushReport:
    """Send every due message once; failures are recorded per message and the rest carries on."""
    sent = retrying = failed = 0
    for queued in await asyncio.to_thread(store.claim, clock(), CLAIM_LEASE, limit, sender.name):
        outcome = await sender.send(queued.message)
        now = clock()
        if outcome.ok:
            await asyncio.to_thread(store.mark_sent, queued.id, now)
            sent += 1
            continue
        attempts = queued.attempts + 1
        if outcome.retry_after is not None and attempts < MAX_ATTEMPTS:
            delay = max(outcome.retry_after, 2.0**attempts)
            await asyncio.to_thread(
                store.mark_failed, queued.id, outcome.error, now + timedelta(seconds=delay)
            )
            retrying += 1
        else:
            await asyncio.to_thread(store.mark_failed, queued.id, outcome.error, None)
            failed += 1
        if outcome.chat_gone:  # blocked, kicked or deleted: stop sending there until the chat comes back
            await asyncio.to_thread(store.update_chat, queued.message.chat, active=False)
        log.warning(
            "Unable to send message",
            extra={
                "chat": queued.message.chat,
                "key": queued.message.key,
                "error": outcome.error,
                "attempts": attempts,
            },
        )
    return FlushReport(sent, retrying, failed)
