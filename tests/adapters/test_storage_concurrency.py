"""Several workers on one database: each story stored once, each message claimed by one sender, one migration.

Every worker is a `Store` with its own engine (its own connections), as separate processes have; they run in
threads released together by a barrier, against SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import Connection, create_engine, func, select, text

from bot.model import Field, Match, OutgoingMessage, RuleKind, Story
from storage import Store, StoredStory, open_store
from storage.migrations import current_revision, head_revision
from storage.schema import matches, outbox, stories
from tests.conftest import ROOT

T = TypeVar("T")
T0 = datetime(2025, 5, 15, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def together(count: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..count-1) in threads that start at the same moment; return the results in order."""
    barrier = threading.Barrier(count)

    def start(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(start, range(count)))


@pytest.fixture
def workers(db_url: str) -> Iterator[list[Store]]:
    with ExitStack() as stack:
        first = open_store(db_url)
        stack.callback(first.close)
        others = [open_store(db_url) for _ in range(3)]
        for store in others:
            stack.callback(store.close)
        yield [first, *others]


def items(count: int, shared_urls: int) -> list[StoredStory]:
    """Stories s0..s{count-1}; the last `shared_urls` reuse an earlier story's canonical URL."""
    result = []
    for k in range(count):
        url = f"https://news.test/{k % (count - shared_urls)}"
        story = Story(id=f"s{k}", title=f"Story {k}", url=url, canonical_url=url, source="Test", published=T0)
        match = Match("topic", RuleKind.TOPIC, "Story", Field.TITLE, "Story", 100.0, 0, 5)
        result.append(StoredStory(story, story.id, (match,)))
    return result


def stored(story_id: str, url: str) -> StoredStory:
    story = Story(id=story_id, title="Story", url=url, canonical_url=url, source="Test", published=T0)
    return StoredStory(story, story_id, ())


def story_row(story_id: str, url: str) -> dict[str, object]:
    return {
        "id": story_id,
        "canonical_url": url,
        "url": url,
        "title": "Story",
        "summary": "",
        "source": "Test",
        "feed": "",
        "fetched_at": T0,
        "cluster_id": story_id,
    }


def wait_until_a_backend_waits_for_a_lock(conn: Connection) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(600):
        if conn.execute(query).scalar():
            return
        time.sleep(0.05)
    raise AssertionError("the worker never waited for the lock")


def test_racing_pollers_store_each_story_and_its_matches_once(workers: list[Store]) -> None:
    batch = items(400, shared_urls=60)

    def poll(i: int) -> list[str]:
        mine = random.Random(i).sample(batch, len(batch))  # each worker meets the stories in its own order
        inserted = []
        for start in range(0, len(mine), 40):
            inserted += workers[i].save_stories(mine[start : start + 40], T0)
        return inserted

    inserted = [story_id for ids in together(4, poll) for story_id in ids]
    assert len(inserted) == len(set(inserted)) == 340  # 400 ids, 60 of them sharing a canonical URL
    with workers[0].engine.connect() as conn:
        stored = set(conn.execute(select(stories.c.id)).scalars())
        match_rows = conn.execute(select(func.count()).select_from(matches)).scalar()
    assert stored == set(inserted) and match_rows == 340


def test_racing_enqueues_queue_each_key_once(workers: list[Store]) -> None:
    messages = [OutgoingMessage(f"alert:@c:s{k}", "@c", f"story {k}") for k in range(300)]

    def enqueue(i: int) -> int:
        mine = random.Random(i).sample(messages, len(messages))
        return sum(workers[i].enqueue(mine[start : start + 50], T0) for start in range(0, len(mine), 50))

    assert sum(together(4, enqueue)) == 300
    assert len(workers[0].pending(T0, limit=1000)) == 300


def test_four_senders_claim_every_message_exactly_once(workers: list[Store]) -> None:
    workers[0].enqueue([OutgoingMessage(f"m{k}", "@c", f"message {k}") for k in range(500)], T0)

    def send(i: int) -> list[str]:
        sent = []
        while claimed := workers[i].claim(T0, LEASE, limit=20):
            for queued in claimed:
                sent.append(queued.message.key)
                workers[i].mark_sent(queued.id, T0)
        return sent

    sent = [key for keys in together(4, send) for key in keys]
    assert sorted(sent) == sorted(f"m{k}" for k in range(500))  # every message, none twice
    assert workers[0].claim(T0 + LEASE * 2, LEASE) == [] and workers[0].stats().outbox_sent == 500


def test_a_claim_skips_messages_another_sender_holds(workers: list[Store]) -> None:
    workers[0].enqueue([OutgoingMessage(f"m{k}", "@c", "x") for k in range(10)], T0)
    first = workers[0].claim(T0, LEASE, limit=4)
    second = workers[1].claim(T0, LEASE, limit=100)
    assert [q.message.key for q in first] == ["m0", "m1", "m2", "m3"]
    assert [q.message.key for q in second] == [f"m{k}" for k in range(4, 10)]
    assert workers[2].claim(T0, LEASE) == []
    retaken = workers[2].claim(T0 + LEASE + timedelta(seconds=1), LEASE)  # both senders died
    assert len(retaken) == 10


STARTER = """
import sys
from storage import open_store
print("ready", flush=True)
sys.stdin.readline()  # the go signal, sent once every process is ready
open_store(sys.argv[1]).close()
"""


def test_worker_processes_starting_together_migrate_once(db_url: str) -> None:
    # Processes, not threads: Alembic keeps its migration context in module globals.
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, db_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    assert all(starter.stdout and starter.stdout.readline() == "ready\n" for starter in starters)
    for starter in starters:
        assert starter.stdin
        starter.stdin.write("go\n")
        starter.stdin.flush()
    errors = [starter.communicate(timeout=120)[1] for starter in starters]
    assert [starter.returncode for starter in starters] == [0] * 4, "\n".join(errors)
    with closing(open_store(db_url)) as store, store.engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 0


@pytest.mark.postgres
def test_a_unit_of_work_aborted_by_a_deadlock_is_retried(postgres_url: str) -> None:
    # Another transaction holds the canonical URL the worker's second story needs, then asks for the one
    # its first story took: a deadlock. The worker's backend detects it first (the other waits 30 s before
    # checking), so PostgreSQL aborts the worker, which retries and finds both URLs taken.
    with closing(open_store(postgres_url)) as worker:
        other = create_engine(postgres_url)
        try:
            with other.connect() as conn:
                conn.execute(text("SET deadlock_timeout = '30s'"))
                conn.execute(stories.insert().values(story_row("z", "https://news.test/1")))
                with ThreadPoolExecutor(1) as pool:
                    saving = pool.submit(
                        worker.save_stories,
                        [stored("a", "https://news.test/2"), stored("b", "https://news.test/1")],
                        T0,
                    )
                    wait_until_a_backend_waits_for_a_lock(conn)
                    conn.execute(stories.insert().values(story_row("y", "https://news.test/2")))
                    conn.commit()
                    assert saving.result(timeout=60) == []
        finally:
            other.dispose()
        assert {s.id for s, _ in worker.recent_stories(T0 - timedelta(days=1))} == {"y", "z"}
