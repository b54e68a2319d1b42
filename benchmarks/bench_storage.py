"""Storage benchmark: story ingestion and outbox claims by 1, 2 and 4 worker processes, SQLite and PostgreSQL.

Each worker is a process with its own `Store`, as `newsbot run --role poller|sender` would be:
- ingest: real stories saved with their matches in poll-sized batches (30), the workers splitting the
  stream between them (as pollers sharing feeds do), plus a round where every worker saves every story
  (racing on each one: stored once all the same);
- outbox: messages claimed 20 at a time and marked sent one by one (as senders do).
Each figure is the median of 3 rounds (this machine's speed varies with its load). The baseline is one
SQLite process, measured in the same run. PostgreSQL is NEWSBOT_BENCH_POSTGRES_URL,
or a throwaway local server (fsync off, like the tests). Run: .venv/bin/python -m benchmarks.bench_storage
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks.common import real_stories
from bot.model import Field, Match, OutgoingMessage, RuleKind
from storage import StoredStory, open_store

T0 = datetime(2025, 5, 15, 8, 0, tzinfo=UTC)
BATCH = 30
MATCH = Match("topic", RuleKind.TOPIC, "term", Field.TITLE, "term", 100.0, 0, 4)


def ingest(url: str, worker: int, workers: int, race: bool, start_at: float) -> tuple[float, float, int]:
    store = open_store(url)
    stories = real_stories()
    mine = stories if race else stories[worker::workers]
    items = [StoredStory(s, s.id, (MATCH,) if i % 5 == 0 else ()) for i, s in enumerate(mine)]
    if race:  # each worker meets the stories in its own order, as two feeds carry them
        items = items[worker * len(items) // workers :] + items[: worker * len(items) // workers]
    _wait(start_at)
    began = time.perf_counter()
    inserted = sum(len(store.save_stories(items[i : i + BATCH], T0)) for i in range(0, len(items), BATCH))
    ended = time.perf_counter()
    store.close()
    return began, ended, inserted


def send(url: str, worker: int, workers: int, race: bool, start_at: float) -> tuple[float, float, int]:
    store = open_store(url)
    _wait(start_at)
    began = time.perf_counter()
    sent = 0
    while claimed := store.claim(T0, timedelta(minutes=2), limit=20):
        for queued in claimed:
            store.mark_sent(queued.id, T0)
            sent += 1
    ended = time.perf_counter()
    store.close()
    return began, ended, sent


def _wait(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def measure(
    work: Callable[[str, int, int, bool, float], tuple[float, float, int]], url: str, workers: int, race: bool
) -> tuple[float, int]:
    """Run `work` in `workers` processes started together; return (items per second, items done)."""
    start_at = time.time() + 2.5  # after every process has imported and opened its store
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.starmap(work, [(url, w, workers, race, start_at) for w in range(workers)])
    began = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    done = sum(r[2] for r in results)
    return done / (ended - began), done


def fresh(kind: str, postgres: str, folder: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder}/{name}.db"
    engine = create_engine(postgres)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    engine.dispose()
    return f"{postgres}{'&' if '?' in postgres else '?'}options=-csearch_path%3D{name}"


def fill_outbox(url: str, count: int) -> None:
    store = open_store(url)
    store.enqueue([OutgoingMessage(f"m{k}", "@c", f"message {k}") for k in range(count)], T0)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    server = None
    postgres = os.environ.get("NEWSBOT_BENCH_POSTGRES_URL", "")
    if not postgres:
        from tests.helpers.pgserver import PostgresServer

        server = PostgresServer()
        postgres = server.start()
    stories = real_stories()
    distinct = len({s.canonical_url or s.id for s in stories})  # some share a canonical URL: stored once
    print(
        f"{len(stories):,} real stories ({distinct:,} distinct), 1 in 5 with a match, in batches of {BATCH}; "
        f"{args.messages:,} messages"
    )
    print(f"machine: {os.cpu_count()} cores; PostgreSQL and the workers share them; fsync off on PostgreSQL")
    print(f"median of {args.rounds} rounds; ingest range: every round")
    print(
        f"{'database':<11}{'workers':>8}{'ingest st/s':>13}{'ingest range':>14}{'racing st/s':>13}"
        f"{'outbox msg/s':>14}{'vs base':>9}"
    )
    base = 0.0
    try:
        with tempfile.TemporaryDirectory() as folder:
            for kind in ("sqlite", "postgresql"):
                for workers in counts:
                    rates: dict[str, list[float]] = {"ingest": [], "racing": [], "outbox": []}
                    for round_ in range(args.rounds):
                        tag = f"{kind}_{workers}_{round_}"
                        rate, done = measure(
                            ingest, fresh(kind, postgres, Path(folder), f"i_{tag}"), workers, False
                        )
                        assert done == distinct, (kind, workers, done)
                        rates["ingest"].append(rate)
                        rate, done = measure(
                            ingest, fresh(kind, postgres, Path(folder), f"r_{tag}"), workers, True
                        )
                        assert done == distinct, (kind, workers, done)  # every story stored exactly once
                        rates["racing"].append(rate)
                        url = fresh(kind, postgres, Path(folder), f"o_{tag}")
                        fill_outbox(url, args.messages)
                        rate, done = measure(send, url, workers, False)
                        assert done == args.messages, (kind, workers, done)  # every message claimed once
                        rates["outbox"].append(rate)
                    ingest_rate, racing, sent = (
                        statistics.median(rates[k]) for k in ("ingest", "racing", "outbox")
                    )
                    base = base or ingest_rate
                    spread = f"{min(rates['ingest']):,.0f}-{max(rates['ingest']):,.0f}"
                    print(
                        f"{kind:<11}{workers:>8}{ingest_rate:>13,.0f}{spread:>14}{racing:>13,.0f}{sent:>14,.0f}"
                        f"{ingest_rate / base:>8.1f}x",
                        flush=True,
                    )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
