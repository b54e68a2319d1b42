"""`newsbot run` survives a day of feed faults, on a clock running about 2,000 times faster than real time.

A loopback server plays nine feeds through one simulated day: a busy feed with news every hour, and
feeds that fail in every way a real feed does for a few hours each (server errors, hangs, rate limiting
with Retry-After, a web page instead of the feed, a never-ending body, refused connections, a permanent
move) and one that is gone all day. The service runs its real scheduler, poller, outbox and digests.
At the end: it is still running and stops cleanly, every story was stored once and alerted at most once,
every feed whose fault ended is healthy again, Retry-After was obeyed, the moved feed is polled at its new
address, and the dead feed was polled rarely.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from bot import app
from bot.fetch import FetchLimits
from bot.model import OutgoingMessage, RuleKind
from bot.senders import SendOutcome
from bot.settings import Settings
from bot.watchlist import Channel, FeedRule, Mode, Priority, Rule, Watchlist
from tests.helpers.feedserver import QuietHTTPServer

START = datetime(2025, 5, 15, 0, 0, tzinfo=UTC)
PACE = 2400.0  # simulated seconds per real second: a day in 36 s
DAY = timedelta(days=1)

# Fault windows in simulated hours [start, end).
FAULTS = {
    "errors": (2, 6),  # HTTP 500
    "hang": (8, 10),  # never answers within the read timeout
    "limited": (12, 13),  # 429 with Retry-After: 1 hour
    "webpage": (14, 16),  # an HTML page that names no feed
    "endless": (16, 17),  # a body that never ends
    "refused": (20, 22),  # the connection is closed without an answer
}
TOPICS = [
    "Rwanda",
    "small boats",
    "Home Office",
    "asylum hotels",
    "ECHR",
    "return hubs",
    "Channel crossings",
    "deportation flights",
]


class SimClock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> datetime:
        return START + timedelta(seconds=(time.monotonic() - self.t0) * PACE)

    def hour(self) -> float:
        return (self() - START).total_seconds() / 3600


WORDS = (
    "minister council budget court ruling appeal school hospital strike union rail energy price tariff "
    "election poll candidate mayor harbour bridge flood storm drought farm wheat export import factory "
    "museum festival orchestra stadium league coach transfer injury record science vaccine trial telescope "
    "satellite airport runway pilot tunnel canal river forest wildfire police inquiry report audit pension "
    "housing rent mortgage bank lender inflation wages bonus charity volunteer library archive"
).split()


def headline(feed: str, hour: int) -> str:
    """A headline of its own for each feed and hour, so stories do not fold into one another."""
    rng = random.Random(f"{feed}:{hour}")
    topic = TOPICS[(hour + len(feed)) % len(TOPICS)]
    return f"{topic}: {' '.join(rng.sample(WORDS, 6))}"


def summary(feed: str, hour: int) -> str:
    """A summary of its own too, in words no other story uses: stories that share a template, a topic and
    the hour's figure, in a vocabulary of 60 words, would rightly look like one development."""
    rng = random.Random(f"{feed}:{hour}:summary")
    return " ".join(f"{feed}{hour}{word}" for word in rng.sample(WORDS, 8)).capitalize() + "."


def rss(feed: str, hour: int) -> bytes:
    """The feed as published at a simulated hour: one new story an hour, the latest 10 kept."""
    items = []
    for h in range(max(0, hour - 9), hour + 1):
        when = (START + timedelta(hours=h)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        title = headline(feed, h)
        items.append(
            f"<item><title>{escape(title)}</title><guid>urn:{feed}:{h}</guid>"
            f"<link>http://example.org/{feed}/{h}</link><pubDate>{when}</pubDate>"
            f"<description>{escape(summary(feed, h))}</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{feed}</title>{"".join(items)}</channel></rss>'
    ).encode()


@dataclass
class FaultyServer:
    clock: SimClock
    requests: list[tuple[str, float]] = field(default_factory=list)  # path, simulated hour
    _server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                hour = outer.clock.hour()
                outer.requests.append((self.path, hour))
                name = self.path.strip("/").split("/")[-1]
                try:
                    self.answer(name, hour)
                except OSError:  # the client hung up (timeouts, size cap)
                    self.close_connection = True

            def answer(self, name: str, hour: float) -> None:
                start, end = FAULTS.get(name, (99, 99))
                faulty = start <= hour < end
                if name == "gone":
                    return self.send(404, b"gone")
                if name == "moving" and not self.path.startswith("/new/") and hour >= 18:
                    return self.send(301, b"", {"Location": "/new/moving"})
                if faulty and name == "errors":
                    return self.send(500, b"oops")
                if faulty and name == "hang":
                    time.sleep(3.0)  # longer than the read timeout
                    return self.send(200, rss(name, int(hour)))
                if faulty and name == "limited":
                    return self.send(429, b"", {"Retry-After": "3600"})
                if faulty and name == "webpage":
                    return self.send(200, b"<!DOCTYPE html><html><body>Maintenance</body></html>")
                if faulty and name == "endless":
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(10_000):
                        self.wfile.write(b"<rss>" + b"x" * 65536)
                    return None
                if faulty and name == "refused":
                    self.close_connection = True
                    return None
                return self.send(200, rss(name, int(hour)), {"Content-Type": "application/rss+xml"})

            def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class RecordingSender:
    name = "console"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        self.sent.append(message)
        return SendOutcome(True)


@pytest.fixture
def day(tmp_path: Path) -> Iterator[tuple[app.App, FaultyServer, RecordingSender, SimClock]]:
    clock = SimClock()
    server = FaultyServer(clock)
    port = server.start()
    names = ["busy", "moving", "gone", *FAULTS]
    feeds = tuple(FeedRule(name, f"http://127.0.0.1:{port}/feed/{name}") for name in names)
    terms = ("Rwanda", "small boats", "return hubs")
    rules = (Rule("migration", "Migration", RuleKind.TOPIC, terms=terms, priority=Priority.ALERT),)
    channel = Channel(chat="@desk", follow=None, mode=Mode.BOTH)
    settings = Settings(
        db=f"sqlite:///{tmp_path}/db.sqlite", metrics_port=None, poll_every=timedelta(minutes=15)
    )
    sender = RecordingSender()
    application = app.build(
        settings, Watchlist(feeds=feeds, topics=rules, channels=(channel,)), sender, clock=clock
    )
    application.limits = FetchLimits(  # the hanging feed sleeps 3 s; others answer at once
        read_timeout=1.5, connect_timeout=1.0, total_timeout=2.5, max_bytes=1_000_000
    )
    try:
        yield application, server, sender, clock
    finally:
        application.close()
        server.stop()


def test_the_service_survives_a_day_of_feed_faults(
    day: tuple[app.App, FaultyServer, RecordingSender, SimClock],
) -> None:
    application, server, sender, clock = day

    async def one_day() -> None:
        stop = asyncio.Event()
        service = asyncio.create_task(app.run(application, stop, pace=PACE))
        while clock() < START + DAY + timedelta(hours=1):
            assert not service.done(), service.exception() if service.done() else None
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(service, timeout=30)  # stops cleanly, without raising

    asyncio.run(one_day())

    store = application.store
    states = {s.name: s for s in store.feed_states()}
    # Every feed whose fault ended is healthy again, and polled after its fault.
    for name, (_, fault_end) in FAULTS.items():
        state = states[name]
        assert state.error_count == 0, (name, state.last_error)
        assert state.last_success is not None and state.last_success >= START + timedelta(hours=fault_end)
    # Each feed's stories were stored once: one per simulated hour of the day, from the feed's history.
    stored = store.recent_stories(START - DAY)
    ids = [story.id for story, _ in stored]
    assert len(ids) == len(set(ids))
    busy = {i for i in ids if i.startswith("urn:busy:")}
    assert len(busy) >= 24
    # Alerts: each at most once, and never twice for one story.
    keys = [m.key for m in sender.sent]
    assert keys and len(keys) == len(set(keys))
    alerts = [m.key for m in sender.sent if m.key.startswith("alert:")]
    matched = store.digest_stories(START - DAY, START + 2 * DAY)
    clusters = {s.cluster_id for s in matched if s.matches}
    assert len(clusters) >= 10 and sorted(alerts) == sorted(f"alert:@desk:{c}" for c in clusters)
    # The 429 asked for an hour: nothing was sent to that feed within the hour after the first 429.
    limited = [hour for path, hour in server.requests if path.endswith("/limited")]
    first_429 = min(h for h in limited if 12 <= h < 13)
    assert not [h for h in limited if first_429 < h < first_429 + 0.95]
    # The moved feed is polled at its new address.
    assert states["moving"].fetch_url is not None and states["moving"].fetch_url.endswith("/new/moving")
    assert any(path == "/new/moving" for path, _ in server.requests)
    # The dead feed backs off: polled far less than the busy one, and reported as failing.
    polls = Counter(path.rsplit("/", 1)[-1] for path, _ in server.requests)
    assert states["gone"].error_count >= 3 and polls["gone"] * 3 < polls["busy"]
    # The daily digest went out once, at 08:00 London time.
    assert len({m.key.rsplit(":", 1)[0] for m in sender.sent if m.key.startswith("digest:@desk")}) == 1
