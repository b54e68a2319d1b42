"""From feeds served over loopback to the rendered digest, through the real pipeline and a real SQLite."""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import app
from bot.jsonl import story_from_json
from bot.rulefiles import load_watchlist
from bot.senders import ConsoleSender
from bot.settings import Settings
from bot.watchlist import FeedRule
from storage import StoredStory, open_store
from storage.schema import stories
from tests.conftest import DATA, ROOT
from tests.conftest import RULES as RULE_FILES
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


def test_a_restart_rebuilds_the_clusterer_from_storage_batch_by_batch(db_url: str) -> None:
    """The index is restored from stories read a batch at a time: the same stories in the same order as
    one read of them all, so the restarted service folds new coverage as an index restored from that does."""
    lines = (DATA / "dedup" / "stories.jsonl").read_text().splitlines()
    labelled = [story_from_json(json.loads(line)) for line in lines]
    stored, later = labelled[:2100], labelled[2100:]
    settings = Settings(rules=(RULE_FILES,), db=db_url, dedup_window=timedelta(days=400))
    first = app.build(settings, clock=lambda: NOW)
    when = datetime(2023, 1, 1, tzinfo=UTC)
    for k in range(0, len(stored), 25):  # as polls store them: each poll's stories share fetched_at
        chunk = stored[k : k + 25]
        when = max([when, *(s.published for s in chunk if s.published)])
        index = first.ingestor.index
        first.store.save_stories([StoredStory(s, index.assign(s, when).cluster_id, ()) for s in chunk], when)
    first.close()
    since = when - settings.dedup_window
    with closing(open_store(db_url)) as store:
        query = select(stories.c.id, stories.c.cluster_id).where(stories.c.fetched_at >= since)
        with store.engine.connect() as conn:
            rows = conn.execute(query.order_by(stories.c.fetched_at, stories.c.id)).all()
        one_read = list(store.recent_stories(since, batch=len(stored)))
        assert list(store.recent_stories(since, batch=7)) == one_read
    assert [(s.id, cluster_id) for s, cluster_id in one_read] == [tuple(row) for row in rows]
    assert len(one_read) == len(stored)

    restarted = app.build(settings, clock=lambda: when)  # reads the stories 1,000 at a time
    expected = app.build_cluster_index(settings)
    for story, cluster_id in one_read:
        expected.restore(story, cluster_id, when)
    assert restarted.ingestor.index.sizes() == expected.sizes()
    assert expected.sizes()["clusters"] == len({cluster_id for _, cluster_id in one_read})
    for story in later:
        when = max(when, story.published or when)
        assert restarted.ingestor.index.assign(story, when) == expected.assign(story, when)
    restarted.close()
