"""Scale-out: 5,000 loopback feeds polled by 1, 2 and 4 `newsbot run --role poller` processes on PostgreSQL.

    python -m benchmarks.bench_scaleout [--feeds 5000] [--workers 1,2,4] [--concurrency 20]

For each number of pollers: a fresh PostgreSQL schema with the default people and topics and the
feeds, each feed's ETag and Last-Modified already stored (as after earlier polls; read from the server
before the pollers start), and the pollers started. Then every feed is made due at once and the time
until each has been polled is measured, twice: a mixed cycle (the feed server's mix: ~80% answer 304,
~12% have a new edition (all 30 items new to this database), slow, failing and redirected feeds) and an
all-304 cycle. The speed-up is against one poller, measured in the same run. The feed
server runs in its own process; PostgreSQL is a throwaway local cluster (NEWSBOT_BENCH_POSTGRES_URL to
use another). Everything shares this machine's cores, so the speed-up is bounded by them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, bindparam, create_engine, func, select, text, update

from benchmarks.common import ROOT
from benchmarks.feedserver import FeedServerProcess, start_server
from storage import open_store
from storage.schema import feeds, stories
from tests.helpers.pgserver import PostgresServer

RULES = ROOT / "rules"


@dataclass(frozen=True, slots=True)
class Cycle:
    seconds: float
    feeds: int
    stories: int


def schema_url(engine: Engine, schema: str) -> str:
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def write_rules(folder: Path, server: FeedServerProcess, count: int) -> None:
    folder.mkdir(parents=True)
    for name in ("people.yaml", "topics.yaml"):
        shutil.copy(RULES / name, folder / name)
    lines = ["feeds:"] + [f"  - {{name: 'Feed {i}', url: '{server.feed_url(i)}'}}" for i in range(count)]
    (folder / "feeds.yaml").write_text("\n".join(lines) + "\n")


def start_pollers(n: int, env: dict[str, str]) -> list[subprocess.Popen[str]]:
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--role", "poller"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    ready = [threading.Event() for _ in workers]

    def drain(i: int) -> None:
        stream = workers[i].stderr
        assert stream is not None
        for line in stream:
            if "newsbot running" in line:
                ready[i].set()
            elif "Traceback" in line or " ERROR " in line:
                print(f"  poller {i}: {line.rstrip()}", file=sys.stderr)

    for i in range(n):
        threading.Thread(target=drain, args=(i,), daemon=True).start()
    for event in ready:
        if not event.wait(120):
            raise SystemExit("a poller did not start within 120 s")
    return workers


def read_validators(server: FeedServerProcess, count: int) -> dict[int, tuple[str | None, str | None]]:
    """Each feed's ETag and Last-Modified, as a poller that polled it before would have stored them."""

    def head(i: int) -> tuple[int, tuple[str | None, str | None]]:
        with urllib.request.urlopen(server.feed_url(i), timeout=30) as response:
            response.read()
            return i, (response.headers.get("ETag"), response.headers.get("Last-Modified"))

    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(head, range(count)))


def cycle(engine: Engine, total: int, timeout: float = 1800) -> Cycle:
    """Make every feed due now and wait until each has been polled; return the time it took."""
    with engine.begin() as conn:
        before = conn.execute(select(func.count()).select_from(stories)).scalar_one()
        started = datetime.now(UTC)
        conn.execute(update(feeds).values(next_poll=None))
    t0 = time.perf_counter()
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        with engine.connect() as conn:
            done = conn.execute(
                select(func.count()).select_from(feeds).where(feeds.c.last_polled >= started)
            ).scalar_one()
        if done >= total:
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(stories)).scalar_one()
    return Cycle(seconds, done, after - before)


def run(
    n: int, server: FeedServerProcess, admin: Engine, count: int, concurrency: int
) -> tuple[Cycle, Cycle]:
    url = schema_url(admin, f"scaleout_{n}_{uuid.uuid4().hex[:8]}")
    with tempfile.TemporaryDirectory(prefix="newsbot-scaleout-") as tmp:
        rules = Path(tmp) / "rules"
        write_rules(rules, server, count)
        store = open_store(url)  # migrates
        store.sync_feeds([(server.feed_url(i), f"Feed {i}") for i in range(count)])
        store.close()
        server.start_cycle("steady")
        validators = read_validators(server, count)
        future = datetime.now(UTC) + timedelta(days=1)
        engine = create_engine(url)
        with engine.begin() as conn:  # known to the pollers already; nothing due until the cycle starts
            conn.execute(
                update(feeds).where(feeds.c.url == bindparam("feed")),
                [
                    {"feed": server.feed_url(i), "etag": etag, "last_modified": modified, "next_poll": future}
                    for i, (etag, modified) in validators.items()
                ],
            )
        env = {
            "PATH": os.environ.get("PATH", ""),
            "NEWSBOT_DB": url,
            "NEWSBOT_RULES": str(rules),
            "NEWSBOT_CONCURRENCY": str(concurrency),
            "NEWSBOT_PER_HOST": str(concurrency),  # every feed is on one loopback host
            "NEWSBOT_METRICS_PORT": "off",
            "NEWSBOT_LOG_LEVEL": "INFO",
        }
        workers = start_pollers(n, env)
        try:
            server.start_cycle("mixed")
            mixed = cycle(engine, count)
            server.start_cycle("steady")
            unchanged = cycle(engine, count)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
            engine.dispose()
    return mixed, unchanged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated numbers of pollers")
    parser.add_argument("--concurrency", type=int, default=20, help="feeds each poller fetches at once")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    pg = None
    url = os.environ.get("NEWSBOT_BENCH_POSTGRES_URL")
    if not url:
        pg = PostgresServer()
        url = pg.start()
    admin = create_engine(url)
    print(
        f"scale-out: {args.feeds:,} feeds x 30 items, pollers of concurrency {args.concurrency}, PostgreSQL"
    )
    print(
        f"{'pollers':>7}  {'mixed cycle':>11}  {'speed-up':>8}  {'all-304 cycle':>13}  {'speed-up':>8}  stories"
    )
    results: dict[int, tuple[Cycle, Cycle]] = {}
    try:
        with start_server(args.feeds) as server:
            for n in counts:
                mixed, unchanged = run(n, server, admin, args.feeds, args.concurrency)
                results[n] = (mixed, unchanged)
                base_mixed, base_unchanged = results[counts[0]]
                print(
                    f"{n:>7}  {mixed.seconds:>10.1f}s  {base_mixed.seconds / mixed.seconds:>7.2f}x  "
                    f"{unchanged.seconds:>12.1f}s  {base_unchanged.seconds / unchanged.seconds:>7.2f}x  "
                    f"{mixed.stories:,} + {unchanged.stories:,}",
                    flush=True,
                )
                if mixed.feeds < args.feeds or unchanged.feeds < args.feeds:
                    print(f"  incomplete: {mixed.feeds} / {unchanged.feeds} feeds polled", flush=True)
    finally:
        admin.dispose()
        if pg is not None:
            pg.stop()
    print(f"(speed-up against {counts[0]} poller(s), same run; {os.cpu_count()} CPU cores shared by all)")


if __name__ == "__main__":
    main()
