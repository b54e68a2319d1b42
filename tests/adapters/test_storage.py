"""Storage against real SQLite and PostgreSQL: migrations, never-twice stories, the outbox, digest marks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.errors import StorageError
from bot.model import FeedState, Field, Match, OutgoingMessage, RuleKind, Story
from bot.watchlist import tracked_id
from storage import Store, StoredStory, open_store
from storage.engine import make_engine
from storage.migrations import HEAD, alembic_config, current_revision, migrate

T0 = datetime(2023, 11, 15, 10, 0, tzinfo=UTC)
MATCH = Match("rwanda", RuleKind.TOPIC, "Rwanda", Field.TITLE, "Rwanda", 100.0, 0, 6)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = open_store(db_url)
    yield store
    store.close()


def story(sid: str, url: str = "", title: str = "Rwanda ruling") -> Story:
    return Story(id=sid, title=title, url=url, canonical_url=url, source="BBC", published=T0)


def test_open_creates_the_folder_and_migrates(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/a/b/c.db")
    assert (tmp_path / "a" / "b" / "c.db").exists()
    tables = set(inspect(store.engine).get_table_names())
    assert {"feeds", "stories", "matches", "outbox", "digests", "alembic_version"} <= tables
    store.close()
    open_store(f"sqlite:///{tmp_path}/a/b/c.db").close()  # a second open finds it current


def test_open_migrates_an_empty_database_once(db_url: str) -> None:
    with closing(open_store(db_url)) as store:
        tables = set(inspect(store.engine).get_table_names())
        assert {"feeds", "stories", "matches", "outbox", "digests", "chats", "alembic_version"} <= tables
    with closing(open_store(db_url)) as store:  # a second open finds it current
        assert store.stats().stories == 0


def test_head_is_alembics_newest_revision() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_the_revision_read_without_alembic_is_alembics(db_url: str) -> None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url)
    try:
        for target, expected in ((None, None), ("0002", "0002"), ("head", HEAD)):
            if target is not None:
                migrate(engine, target)
            with engine.connect() as conn:
                assert current_revision(conn) == expected
                assert MigrationContext.configure(conn).get_current_revision() == expected
    finally:
        engine.dispose()


def test_a_story_is_never_stored_twice_by_id_or_canonical_url(store: Store) -> None:
    first = [story("a", "https://bbc.co.uk/1"), story("b", "https://bbc.co.uk/2")]
    assert store.unseen(first) == first
    assert store.save_stories([StoredStory(s, s.id, (MATCH,)) for s in first], T0) == ["a", "b"]
    again = [
        story("a"),
        story("c", "https://bbc.co.uk/2"),
        story("d", "https://bbc.co.uk/3"),
        story("d", "https://bbc.co.uk/3"),
    ]
    assert [s.id for s in store.unseen(again)] == ["d"]
    assert store.save_stories([StoredStory(story("a"), "a", ())], T0) == []
    repeats = [
        story("e", "https://bbc.co.uk/5"),
        story("e", "https://bbc.co.uk/6"),
        story("f", "https://bbc.co.uk/5"),
    ]
    assert store.save_stories([StoredStory(s, s.id, (MATCH,)) for s in repeats], T0) == ["e"]
    assert store.stats().stories == 3 and store.stats().matched_stories == 3


def test_stories_survive_a_restart(db_url: str) -> None:
    with closing(open_store(db_url)) as store:
        store.save_stories([StoredStory(story("a", "https://x.test/1"), "a", (MATCH,))], T0)
    with closing(open_store(db_url)) as reopened:
        assert reopened.unseen([story("a")]) == []
        [(restored, cluster)] = reopened.recent_stories(T0 - timedelta(hours=1))
    assert restored.id == "a" and cluster == "a" and restored.published == T0


def test_feed_state_round_trip(store: Store) -> None:
    state = FeedState(
        "https://x.test/rss",
        "X",
        etag='"abc"',
        last_modified="Wed, 15 Nov 2023 12:00:00 GMT",
        last_success=T0,
        error_count=0,
        items_seen=3,
        next_poll=T0 + timedelta(minutes=10),
    )
    store.record_fetch(state)
    store.record_fetch(FeedState("https://x.test/rss", "X", last_error="fetch: HTTP 500", error_count=1))
    assert store.feed_state("https://x.test/rss") == FeedState(
        "https://x.test/rss", "X", last_error="fetch: HTTP 500", error_count=1
    )
    store.record_fetch(state)
    assert store.feed_states() == [state]


def test_digest_lists_new_matched_clusters_with_every_member(store: Store) -> None:
    store.save_stories([StoredStory(story("a", "https://x.test/a"), "a", (MATCH,))], T0)
    store.save_stories([StoredStory(story("b", "https://y.test/b"), "a", ())], T0 + timedelta(minutes=5))
    store.save_stories([StoredStory(story("c", "https://z.test/c", "Unrelated"), "c", ())], T0)
    found = store.digest_stories(T0, T0 + timedelta(hours=1))
    assert sorted(s.id for s in found) == ["a", "b"] and {s.cluster_id for s in found} == {"a"}
    assert store.digest_stories(T0 + timedelta(minutes=1), T0 + timedelta(hours=1)) == []


def test_outbox_keys_are_unique_and_state_is_durable(store: Store) -> None:
    message = OutgoingMessage("digest:@c:2023-11-15:1", "@c", "<b>hi</b>", "hi")
    assert store.enqueue([message, message], T0) == 1
    assert store.enqueue([message], T0) == 0
    [queued] = store.pending(T0)
    store.mark_failed(queued.id, "telegram: flood control", T0 + timedelta(seconds=30))
    assert store.pending(T0) == [] and len(store.pending(T0 + timedelta(seconds=31))) == 1
    store.mark_sent(queued.id, T0)
    assert store.pending(T0 + timedelta(days=1)) == []
    assert store.stats().outbox_sent == 1


def test_record_digest_moves_the_mark_and_queues_in_one_step(store: Store) -> None:
    assert store.last_digest("@c") is None
    store.record_digest("@c", T0, [OutgoingMessage("digest:@c:1", "@c", "x")])
    store.record_digest("@c", T0 + timedelta(days=1), [OutgoingMessage("digest:@c:1", "@c", "x")])
    assert store.last_digest("@c") == T0 + timedelta(days=1)
    assert len(store.pending(T0 + timedelta(days=2))) == 1


def test_prune_removes_old_stories_and_their_matches(store: Store) -> None:
    store.save_stories([StoredStory(story("a", "https://x.test/a"), "a", (MATCH,))], T0)
    assert store.prune(T0 + timedelta(days=1)) == 1 and store.stats().stories == 0


def test_errors_never_show_a_password() -> None:
    with pytest.raises(StorageError) as caught:
        open_store("postgresql+psycopg://newsbot:hunter2secret@127.0.0.1:1/newsbot")
    assert "hunter2secret" not in str(caught.value)
    assert str(caught.value).startswith("storage: unable to")


def test_a_sender_only_claims_messages_queued_for_it(store: Store) -> None:
    store.enqueue([OutgoingMessage("t", "@c", "for telegram")], T0, via="telegram")
    store.enqueue([OutgoingMessage("c", "@c", "for the console")], T0, via="console")
    lease = timedelta(minutes=2)
    assert [q.message.key for q in store.claim(T0, lease, via="console")] == ["c"]
    assert [q.message.key for q in store.claim(T0, lease, via="telegram")] == ["t"]


def test_oversized_text_and_nul_characters_are_stored_alike_on_every_backend(store: Store) -> None:
    # PostgreSQL enforces VARCHAR(n) and rejects NUL characters; SQLite does neither. A feed with such
    # values must not fail on one backend and pass on the other, and never be stuck failing for good.
    url = "https://news.test/" + "a" * 3000
    long = Story(
        id="x" * 500,
        title="Rwanda\x00 ruling",
        summary="a\x00b",
        url=url,
        canonical_url=url,
        source="S" * 400,
        published=T0,
    )
    wide = replace(
        long, id="wide", url="https://news.test/日", canonical_url="https://news.test/" + "日" * 1500
    )
    tracked = replace(MATCH, rule=tracked_id("deportation " * 20))
    assert store.save_stories(
        [StoredStory(long, long.id, (tracked,)), StoredStory(wide, "wide", ())], T0
    ) == [
        "wide",
        long.id,
    ]
    assert store.unseen([long, wide]) == []  # found again by the same keys
    sibling = replace(long, id="sibling", canonical_url=url + "b")  # shares the stored prefix, yet differs
    assert store.unseen([sibling]) == [sibling]
    [restored] = store.digest_stories(T0, T0 + timedelta(hours=1))
    assert restored.title == "Rwanda ruling" and len(restored.url) == 2048 and len(restored.source) == 300
    assert restored.matches == (tracked,)  # a /track rule id fits as it is, so alerts still find it


def test_oversized_keys_and_feed_headers_are_stored(store: Store) -> None:
    prefix = "alert:@c:" + "x" * 500
    assert (
        store.enqueue(
            [OutgoingMessage(prefix + "1", "@c", "a"), OutgoingMessage(prefix + "2", "@c", "b")], T0
        )
        == 2
    )
    assert store.enqueue([OutgoingMessage(prefix + "1", "@c", "a")], T0) == 0
    state = FeedState(
        "https://x.test/rss", "N" * 400, etag='"' + "e" * 2000 + '"', last_error="bad \x00 byte"
    )
    store.record_fetch(state)
    stored = store.feed_state(state.url)
    assert stored is not None and len(stored.name) == 300 and stored.last_error == "bad  byte"
