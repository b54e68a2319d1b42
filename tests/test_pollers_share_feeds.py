"""Three poller processes share the feeds on PostgreSQL; one is killed with SIGKILL in the middle of a cycle.

Every story is stored once and alerted once (two feeds carry the same stories, so workers race on them),
no feed is polled by two workers at once, and the dead worker's feeds are polled again once its leases
run out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from storage.schema import feeds, matches, outbox, stories
from tests.conftest import ROOT
from tests.helpers.feedserver import QuietHTTPServer

pytestmark = pytest.mark.postgres

FEEDS = 60
OWN = 5  # stories only one feed carries
SHARED = 3  # stories every feed carries (the same guid and link): workers race to store them
LEASE = 4  # seconds


@dataclass
class SlowFeeds:
    """Each feed answers after 0.4 to 1.2 s, so a kill lands while polls are under way."""

    polls: dict[int, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                started = time.monotonic()
                feed = int(self.path.rsplit("/", 1)[-1])
                time.sleep(0.4 + (feed % 5) * 0.2)
                body = document(feed)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass
                with outer.lock:
                    outer.polls[feed].append((started, time.monotonic()))

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.polls.values())


def item(guid: str, title: str) -> str:
    return (
        f"<item><title>{title}</title><guid>{guid}</guid><link>https://news.example/{guid}</link>"
        f"<pubDate>{NOW}</pubDate><description>{title}, the ministry said.</description></item>"
    )


NOW = format_datetime(datetime.now(UTC), usegmt=True)  # fresh news alerts; a backlog would not
WORDS = "harbour bridge tariff pension rail vaccine canal orchard lighthouse quarry glacier meadow".split()


def document(feed: int) -> bytes:
    own = [
        item(f"urn:feed{feed}:{k}", f"Ministry {WORDS[k]} notice {feed * 100 + k} for district {feed}-{k}")
        for k in range(OWN)
    ]
    shared = [
        item(f"urn:shared:{j}", f"Ministry statement {j} on the {WORDS[j + 6]} inquiry")
        for j in range(SHARED)
    ]
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
        f"{''.join(own + shared)}</channel></rss>"
    ).encode()


@pytest.fixture
def slow_feeds() -> Iterator[tuple[SlowFeeds, int]]:
    server = SlowFeeds()
    port = server.start()
    yield server, port
    server.stop()


def write_rules(folder: Path, port: int) -> Path:
    folder.mkdir()
    lines = ["feeds:"] + [
        f"  - {{name: Feed {i}, url: 'http://127.0.0.1:{port}/feed/{i}'}}" for i in range(FEEDS)
    ]
    (folder / "feeds.yaml").write_text("\n".join(lines) + "\n")
    (folder / "topics.yaml").write_text(
        "topics:\n  - id: ministry\n    name: The ministry\n    terms: [ministry]\n    priority: alert\n"
    )
    (folder / "channels.yaml").write_text('channels:\n  - chat: "@ops"\n    follow: all\n    mode: alert\n')
    return folder


def start_poller(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--role", "poller"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_pollers_one_killed_mid_cycle(
    postgres_url: str, slow_feeds: tuple[SlowFeeds, int], tmp_path: Path
) -> None:
    server, port = slow_feeds
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NEWSBOT_DB": postgres_url,
        "NEWSBOT_RULES": str(write_rules(tmp_path / "rules", port)),
        "NEWSBOT_POLL_LEASE": f"{LEASE}s",
        "NEWSBOT_CONCURRENCY": "4",
        "NEWSBOT_METRICS_PORT": "off",
        "NEWSBOT_LOG_LEVEL": "INFO",
    }
    engine = create_engine(postgres_url)
    # Create the schema once, so three processes starting together do not all migrate an empty database.
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    workers = [start_poller(env) for _ in range(3)]
    logs: list[list[str]] = [[] for _ in workers]

    def read(i: int) -> None:
        assert workers[i].stderr is not None
        for line in workers[i].stderr:
            logs[i].append(line)

    readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(3)]
    for reader in readers:
        reader.start()
    try:
        wait_for(lambda: all(any("newsbot running" in line for line in log) for log in logs), 60, "3 pollers")
        wait_for(lambda: server.count() >= 12, 60, "the first polls")
        victim = workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        with engine.connect() as conn:
            query = select(feeds.c.url, feeds.c.lease_until).where(
                feeds.c.lease_owner.like(f"%:{victim.pid}:%")
            )
            leases = {row.url: row.lease_until for row in conn.execute(query)}
        held = set(leases)
        assert held, "the killed poller held no lease: the test proves nothing"

        def all_polled() -> bool:
            with engine.connect() as conn:
                done = conn.execute(
                    select(func.count()).where(feeds.c.last_success.is_not(None))
                ).scalar_one()
                leased = conn.execute(
                    select(func.count()).where(feeds.c.lease_owner.is_not(None))
                ).scalar_one()
            return bool(done == FEEDS and leased == 0)

        wait_for(all_polled, 90, "every feed to be polled, the dead poller's too")
        for worker in workers[1:]:
            worker.send_signal(signal.SIGTERM)
        for worker in workers[1:]:
            assert worker.wait(timeout=30) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
        for worker in workers:
            assert worker.stderr is not None
            worker.stderr.close()
    for log in logs[1:]:
        assert not any("Traceback" in line for line in log), "".join(log)

    with engine.connect() as conn:
        ids = list(conn.execute(select(stories.c.id)).scalars())
        alerts = list(conn.execute(select(outbox.c.key).where(outbox.c.key.like("alert:%"))).scalars())
        taken_over = {
            row.url: row.last_success
            for row in conn.execute(select(feeds.c.url, feeds.c.last_success).where(feeds.c.url.in_(held)))
        }
        matched_clusters = set(
            conn.execute(
                select(stories.c.cluster_id).join(matches, matches.c.story_id == stories.c.id).distinct()
            ).scalars()
        )
    engine.dispose()
    # Stored once: every feed's own stories, and each shared story once however many workers raced on it.
    assert len(ids) == len(set(ids)) == FEEDS * OWN + SHARED
    # Alerted once: one alert per matched cluster, never two for one.
    assert len(alerts) == len(set(alerts)) == len(matched_clusters)
    # One worker at a time: a feed was fetched twice only if the dead worker was fetching it.
    url_of = {i: f"http://127.0.0.1:{port}/feed/{i}" for i in range(FEEDS)}
    twice = {url_of[i] for i, polls in server.polls.items() if len(polls) > 1}
    assert twice <= held and all(len(server.polls[i]) >= 1 for i in range(FEEDS))
    # The dead worker's feeds waited for its leases to run out, then were taken over.
    assert all(taken_over[url] >= leases[url] for url in held)
