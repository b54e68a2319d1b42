"""The outbox under process death: a sender killed (SIGKILL) between any two steps loses no message.

Each case runs the sending steps in a real child process against a real database (a SQLite file, and a
PostgreSQL schema) and kills it at one step; then a fresh sender recovers from the database alone and the
deliveries are counted.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from bot.model import OutgoingMessage
from bot.outbox import CLAIM_LEASE, flush_outbox
from bot.senders import SendOutcome
from storage import open_store
from tests.conftest import ROOT

NOW = datetime(2025, 5, 15, 8, 0, tzinfo=UTC)
CHILD = """
import os, signal, sys
from datetime import UTC, datetime, timedelta
from bot.model import OutgoingMessage
from storage import open_store

url, step = sys.argv[1], sys.argv[2]
now = datetime(2025, 5, 15, 8, 0, tzinfo=UTC)
store = open_store(url)

def crash(point):
    if step == point:
        os.kill(os.getpid(), signal.SIGKILL)

store.record_digest("@c", now, [OutgoingMessage("digest:@c:2025-05-15:1", "@c", "the digest")])
crash("after_enqueue")
[claimed] = store.claim(now, timedelta(minutes=2))
crash("after_claim")
print("DELIVERED", claimed.message.key, flush=True)  # the send itself, as the console sender does it
crash("after_send")
store.mark_sent(claimed.id, now)
crash("after_mark")
"""


class CountingSender:
    name = "counting"

    def __init__(self) -> None:
        self.delivered: list[str] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        self.delivered.append(message.key)
        return SendOutcome(True)


def run_child(url: str, step: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, url, step], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == -9, result.stderr  # killed, as intended
    return result.stdout.count("DELIVERED")


def recover(url: str, at: datetime) -> list[str]:
    sender = CountingSender()
    with closing(open_store(url)) as store:
        asyncio.run(flush_outbox(store, sender, lambda: at))
    return sender.delivered


@pytest.mark.parametrize("step", ["after_enqueue", "after_claim", "after_mark"])
def test_a_killed_sender_neither_loses_nor_repeats_a_message(db_url: str, step: str) -> None:
    before = run_child(db_url, step)
    soon = recover(db_url, NOW + timedelta(seconds=1))
    later = recover(db_url, NOW + CLAIM_LEASE + timedelta(seconds=1))
    if step == "after_claim":
        assert soon == []  # the dead sender's claim holds until its lease runs out
    assert before + len(soon) + len(later) == 1
    with closing(open_store(db_url)) as store:
        assert store.stats().outbox_sent == 1
    assert recover(db_url, NOW + timedelta(days=1)) == []


def test_killed_after_telegram_accepted_it_is_sent_again_not_lost(db_url: str) -> None:
    # The one window the Bot API cannot close (it has no idempotency key): the message went out, the
    # sender died before recording it. newsbot errs on the side of delivery.
    before = run_child(db_url, "after_send")
    after = recover(db_url, NOW + CLAIM_LEASE + timedelta(seconds=1))
    assert (before, len(after)) == (1, 1)
