"""Storage against a real SQLite database: migrations, never-twice stories, the outbox, digest marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.errors import StorageError
from bot.model import FeedState, Field, Match, OutgoingMessage, RuleKind, Story
from storage import Store, StoredStory, open_store

T0 = datetime(2023, 11, 15, 10, 0, tzinfo=UTC)
MATCH = Match("rwanda", RuleKind.TOPIC, "Rwanda", Field.TITLE, "Rwanda", 100.0, 0, 6)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path}/sub/dir/newsbot.db")


def story(sid: str, url: str = "", title: str = "Rwanda ruling") -> Story:
    return Story(id=sid, title=title, url=url, canonical_url=url, source="BBC", published=T0)


def test_open_creates_the_folder_and_migrates(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/a/b/c.db")
    assert (tmp_path / "a" / "b" / "c.db").exists()
    tables = set(inspect(store.engine).get_table_names())
    assert {"feeds", "stories", "matches", "outbox", "digests", "alembic_version"} <= tables
    open_store(f"sqlite:///{tmp_path}/a/b/c.db")  # a second open finds it current


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


def test_stories_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    open_store(url).save_stories([StoredStory(story("a", "https://x.test/1"), "a", (MATCH,))], T0)
    reopened = open_store(url)
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
