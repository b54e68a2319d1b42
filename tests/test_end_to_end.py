"""From feeds served over loopback to the rendered digest, through the real pipeline and a real SQLite."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import app
from bot.rulefiles import load_watchlist
from bot.senders import ConsoleSender
from bot.settings import Settings
from bot.watchlist import FeedRule
from tests.conftest import ROOT
from tests.helpers.feedserver import FeedServer

SNAPSHOT = ROOT / "bot" / "demo_data" / "2023-12-06"
NOW = datetime(2023, 12, 6, 23, 0, tzinfo=UTC)
RULES = """
people:
  - id: robert-jenrick
    name: Robert Jenrick
    aliases: [Jenrick]
    priority: alert
topics:
  - id: rwanda-scheme
    name: The Rwanda scheme
    all:
      - [Rwanda]
      - [asylum*, deport*, migrant*, bill, flight*, scheme, plan, policy]
channels:
  - chat: "@watch"
    follow: [robert-jenrick, rwanda-scheme]
    mode: both
"""

WIRE = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire Service</title><link>https://wire.test</link>
<item><title>Robert Jenrick resigns as immigration minister over Rwanda legislation</title>
<link>https://wire.test/2023/12/06/jenrick-resigns</link>
<description>Robert Jenrick has resigned as immigration minister, saying the government's emergency Rwanda
legislation does not go far enough.</description>
<pubDate>Wed, 06 Dec 2023 20:15:00 GMT</pubDate></item></channel></rss>"""


@pytest.fixture
def served(feed_server: FeedServer, tmp_path: Path) -> tuple[Settings, list[FeedRule]]:
    feed_server.publish("e2e-bbc.xml", (SNAPSHOT / "bbc-top.xml").read_bytes())
    feed_server.publish("e2e-guardian.xml", (SNAPSHOT / "guardian-all.xml").read_bytes())
    feed_server.publish("e2e-wire.xml", WIRE.encode())
    feeds = [
        FeedRule(name=n, url=f"{feed_server.url}/etag/{f}")
        for n, f in [
            ("BBC News", "e2e-bbc.xml"),
            ("The Guardian", "e2e-guardian.xml"),
            ("Wire", "e2e-wire.xml"),
        ]
    ]
    (tmp_path / "rules.yaml").write_text(RULES)
    return Settings(rules=(tmp_path / "rules.yaml",), db=f"sqlite:///{tmp_path}/e2e.db"), feeds


def build(
    settings: Settings, feeds: list[FeedRule], out: io.StringIO, clock: list[datetime] | None = None
) -> app.App:
    watchlist = replace(load_watchlist(settings.rules), feeds=tuple(feeds))
    now = clock or [NOW]
    return app.build(settings, watchlist, ConsoleSender(out), clock=lambda: now[0])


def test_feeds_to_digest_with_coverage_folded(
    served: tuple[Settings, list[FeedRule]], feed_server: FeedServer
) -> None:
    settings, feeds = served
    out = io.StringIO()
    clock = [NOW]
    application = build(settings, feeds, out, clock)
    reports, flushed = asyncio.run(app.once(application))
    assert [r.outcome for r in reports] == ["new", "new", "new"]
    assert sum(r.new for r in reports) == 68 + 120 + 1

    # The wire copy folded into the BBC story: one alert for the cluster, naming the other outlet later.
    jenrick = [s for r in reports for s in r.new_matched if "Jenrick resigns" in s.title]
    assert len(jenrick) == 1
    assert flushed.sent >= 1 and out.getvalue().count("Robert Jenrick resigns as immigration minister") == 1

    clock[0] = NOW.replace(hour=23, minute=30)
    asyncio.run(app.send_digest(application, app.find_audience(application, "@watch")))
    asyncio.run(app.flush_outbox(application.store, application.sender, application.clock))
    digest = out.getvalue().split("newsbot digest")[1]
    assert "Robert Jenrick (" in digest and "The Rwanda scheme (" in digest
    lines = digest.splitlines()
    entries = [i for i, line in enumerate(lines) if "Jenrick" in line and "immigration minister" in line]
    assert len(entries) == 1, "the resignation is one entry, whatever each outlet's headline"
    meta = lines[entries[0] + 1]
    assert "also: " in meta and sum(o in meta for o in ("BBC News", "Wire", "The Guardian")) == 3


def test_second_poll_gets_304_and_parses_nothing(
    served: tuple[Settings, list[FeedRule]], feed_server: FeedServer
) -> None:
    settings, feeds = served
    application = build(settings, feeds, io.StringIO())
    asyncio.run(app.once(application))
    application.close()
    before = len(feed_server.requests)
    again = build(settings, feeds, io.StringIO())  # a restart: validators come from the database
    reports, flushed = asyncio.run(app.once(again))
    assert [(r.outcome, r.entries, r.new) for r in reports] == [("unchanged", 0, 0)] * 3
    sent = feed_server.requests[before:]
    assert all(r.headers.get("if-none-match") for r in sent) and flushed.sent == 0


def test_a_broken_feed_does_not_stop_the_others(
    served: tuple[Settings, list[FeedRule]], feed_server: FeedServer
) -> None:
    settings, feeds = served
    broken = [
        FeedRule("Gone", f"{feed_server.url}/status/500"),
        FeedRule("Junk", f"{feed_server.url}/feeds/unrecognized.rss"),
    ]
    application = build(settings, broken + feeds, io.StringIO())
    reports, _ = asyncio.run(app.once(application))
    assert [r.outcome for r in reports] == ["error", "error", "new", "new", "new"]
    states = {s.url: s for s in application.store.feed_states()}
    assert (
        states[broken[0].url].error_count == 1
        and states[broken[0].url].last_error == "fetch: HTTP 500 Internal Server Error"
    )
    assert states[broken[1].url].last_error.startswith("parse:")
