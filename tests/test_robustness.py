"""Every file of the robustness corpus, served over loopback, through fetch, parse and store.

2,100+ feeds (feedparser's well-formed, ill-formed, encoding and entity cases, and real feeds): nothing
crashes, nothing hangs, and every feed ends with its outcome recorded (stories stored, or an error).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import app
from bot.senders import ConsoleSender
from bot.settings import Settings
from bot.watchlist import FeedRule, Watchlist
from tests.conftest import DATA
from tests.helpers.feedserver import FeedServer

CORPUS = DATA / "corpus"
FILES = sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".xml", ".rss", ".atom", ".rdf", ".json")
)


@pytest.fixture(scope="module")
def served(feed_server: FeedServer) -> list[FeedRule]:
    feeds = []
    for i, path in enumerate(FILES):
        name = f"corpus-{i}{path.suffix}"
        feed_server.publish(name, path.read_bytes())
        feeds.append(FeedRule(str(path.relative_to(CORPUS)), f"{feed_server.url}/feeds/{name}"))
    return feeds


def test_the_whole_corpus_goes_through_without_a_crash(served: list[FeedRule], tmp_path: Path) -> None:
    assert len(served) > 2100
    settings = Settings(db=f"sqlite:///{tmp_path}/db.sqlite", concurrency=20)
    application = app.build(
        settings,
        Watchlist(feeds=tuple(served)),
        ConsoleSender(),
        clock=lambda: datetime(2024, 1, 1, tzinfo=UTC),
    )
    reports = asyncio.run(asyncio.wait_for(app.poll_all(application, served), timeout=600))
    assert len(reports) == len(served)
    outcomes = {r.outcome for r in reports}
    assert outcomes <= {"new", "unchanged", "error"}
    errors = [r for r in reports if r.outcome == "error"]
    assert all(r.error and r.error.startswith(("parse:", "fetch:")) for r in errors)
    stored = application.store.feed_states()
    assert len(stored) == len(served)  # every feed's outcome is on record, good or bad
    assert sum(1 for s in stored if s.last_error) == len(errors)
    assert application.store.stats().stories > 1500
    # Script and style injections in feed text never reach a story.
    for story, _ in application.store.recent_stories(datetime(2000, 1, 1, tzinfo=UTC)):
        assert "<script" not in story.title.lower() and "<script" not in story.summary.lower()
