"""`Store`: newsbot's persistence, as domain verbs over `bot.model` values. One transaction per unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.errors import StorageError
from bot.model import (
    ChatSettings,
    DigestStory,
    FeedState,
    Field,
    Match,
    OutgoingMessage,
    RuleKind,
    Story,
    Subscription,
)
from storage.engine import make_engine, redacted
from storage.migrations import migrate
from storage.schema import chats, digests, feeds, matches, outbox, stories, subscriptions

_CHUNK = 400
_FEED_STATE_VALUES = (
    "name",
    "etag",
    "last_modified",
    "last_polled",
    "last_success",
    "last_error",
    "error_count",
    "items_seen",
    "next_poll",
)
# Built once: a poll cycle saves thousands of feed states, and building the UPDATE on each call made
# record_fetch cost ~450 us of CPU instead of ~100 us (SQLite, 2,000 feeds).
_UPDATE_FEED_STATE = (
    update(feeds)
    .where(feeds.c.url == bindparam("feed_url"))
    .values({name: bindparam(name) for name in _FEED_STATE_VALUES})
)


@dataclass(frozen=True, slots=True)
class StoredStory:
    """A new story with what the pipeline decided about it, ready to be saved."""

    story: Story
    cluster_id: str
    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: int
    message: OutgoingMessage
    attempts: int


@dataclass(frozen=True, slots=True)
class Stats:
    feeds: int
    stories: int
    matched_stories: int
    clusters: int
    outbox_pending: int
    outbox_sent: int
    outbox_failed: int


class Store:
    """newsbot's database. Errors come out as `StorageError("storage: unable to ...")`, never with a password."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = redacted(url)

    def close(self) -> None:
        self.engine.dispose()

    # -- feeds ---------------------------------------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState | None:
        with self._read("read feed state") as conn:
            row = conn.execute(select(feeds).where(feeds.c.url == url)).mappings().first()
        return FeedState(**row) if row else None

    def feed_states(self) -> list[FeedState]:
        with self._read("read feed states") as conn:
            rows = conn.execute(select(feeds).order_by(feeds.c.name, feeds.c.url)).mappings().all()
        return [FeedState(**row) for row in rows]

    def record_fetch(self, state: FeedState) -> None:
        """Save a feed's state after a poll (validators, health counters, schedule)."""
        values = {name: getattr(state, name) for name in _FEED_STATE_VALUES}
        with self._write("record a fetch") as conn:
            done = conn.execute(_UPDATE_FEED_STATE, {"feed_url": state.url, **values}).rowcount
            if not done:
                _insert_ignore(conn, feeds, [{"url": state.url, **values}])

    # -- stories -------------------------------------------------------------------------------------------

    def unseen(self, candidates: Sequence[Story]) -> list[Story]:
        """Return the stories not stored before (by id or canonical URL), each once, in input order."""
        seen_ids: set[str] = set()
        seen_urls: set[str] = set()
        with self._read("look up stories") as conn:
            for chunk in _chunks(candidates):
                ids = [s.id for s in chunk]
                urls = [s.canonical_url for s in chunk if s.canonical_url]
                query = select(stories.c.id, stories.c.canonical_url).where(
                    or_(stories.c.id.in_(ids), stories.c.canonical_url.in_(urls))
                )
                for row in conn.execute(query):
                    seen_ids.add(row.id)
                    if row.canonical_url:
                        seen_urls.add(row.canonical_url)
        fresh = []
        for story in candidates:
            if story.id in seen_ids or (story.canonical_url and story.canonical_url in seen_urls):
                continue
            seen_ids.add(story.id)
            if story.canonical_url:
                seen_urls.add(story.canonical_url)
            fresh.append(story)
        return fresh

    def save_stories(self, items: Sequence[StoredStory], fetched_at: datetime) -> list[str]:
        """Store new stories with their cluster and matches; return the ids actually inserted."""
        if not items:
            return []
        inserted: list[str] = []
        with self._write("save stories") as conn:
            for item in items:
                row = _story_row(item, fetched_at)
                if _insert_ignore(conn, stories, [row]) == 0:
                    continue  # stored meanwhile by another worker: never twice
                inserted.append(item.story.id)
                if item.matches:
                    conn.execute(matches.insert(), [_match_row(item.story.id, m) for m in item.matches])
        return inserted

    def recent_stories(self, since: datetime) -> list[tuple[Story, str]]:
        """Return stories fetched since a time with their cluster ids, oldest first (to rebuild the index)."""
        query = select(stories).where(stories.c.fetched_at >= since).order_by(stories.c.fetched_at)
        with self._read("read recent stories") as conn:
            rows = conn.execute(query).mappings().all()
        return [(_story(row), row["cluster_id"]) for row in rows]

    def digest_stories(self, since: datetime, until: datetime) -> list[DigestStory]:
        """Return the matched clusters that first appeared in [since, until), with every member story."""
        with self._read("read the digest") as conn:
            firsts = (
                select(stories.c.cluster_id, func.min(stories.c.fetched_at).label("first_seen"))
                .group_by(stories.c.cluster_id)
                .subquery()
            )
            new_clusters = select(firsts.c.cluster_id).where(
                and_(firsts.c.first_seen >= since, firsts.c.first_seen < until)
            )
            matched = select(stories.c.cluster_id).join(matches, matches.c.story_id == stories.c.id)
            rows = (
                conn.execute(
                    select(stories)
                    .where(stories.c.cluster_id.in_(new_clusters), stories.c.cluster_id.in_(matched))
                    .where(stories.c.fetched_at < until)
                    .order_by(stories.c.fetched_at)
                )
                .mappings()
                .all()
            )
            by_story = self._matches_for(conn, [r["id"] for r in rows])
        return [
            DigestStory(
                id=r["id"],
                title=r["title"],
                url=r["url"],
                source=r["source"],
                published=r["published"] or r["fetched_at"],
                cluster_id=r["cluster_id"],
                matches=tuple(by_story.get(r["id"], ())),
            )
            for r in rows
        ]

    def _matches_for(self, conn: Connection, ids: Sequence[str]) -> dict[str, list[Match]]:
        found: dict[str, list[Match]] = {}
        for chunk in _chunks(ids):
            for row in conn.execute(select(matches).where(matches.c.story_id.in_(chunk))).mappings():
                found.setdefault(row["story_id"], []).append(_match(row))
        return found

    def prune(self, older_than: datetime) -> int:
        """Delete stories fetched before a time (and their matches); return how many went."""
        with self._write("prune stories") as conn:
            old = select(stories.c.id).where(stories.c.fetched_at < older_than)
            conn.execute(delete(matches).where(matches.c.story_id.in_(old)))
            return conn.execute(delete(stories).where(stories.c.fetched_at < older_than)).rowcount

    # -- outbox --------------------------------------------------------------------------------------------

    def enqueue(self, messages: Iterable[OutgoingMessage], now: datetime, via: str | None = None) -> int:
        """Queue messages for a sender (`via`); a key queued before is ignored. Return how many were new."""
        rows = [_outbox_row(m, now, via) for m in messages]
        if not rows:
            return 0
        with self._write("queue messages") as conn:
            return _insert_ignore(conn, outbox, rows)

    def pending(self, now: datetime, limit: int = 100) -> list[QueuedMessage]:
        """Return queued messages that are due, oldest first (without claiming them)."""
        query = select(outbox).where(_due(now)).order_by(outbox.c.id).limit(limit)
        with self._read("read the outbox") as conn:
            return [_queued(r) for r in conn.execute(query).mappings().all()]

    def claim(
        self, now: datetime, lease: timedelta, limit: int = 100, via: str | None = None
    ) -> list[QueuedMessage]:
        """Take due messages for sending until `now + lease`; a crashed sender's claims expire and are retaken.

        Messages are marked `sending` under a fresh claim token in one transaction, so two senders never
        take the same message. A sender that dies after claiming loses nothing: after the lease the message
        is due again. (Telegram has no idempotency key: a sender killed after Telegram accepted a message
        but before `mark_sent` committed will send that message again. That window is one database commit.)
        """
        token = uuid.uuid4().hex
        mine = or_(outbox.c.via.is_(None), outbox.c.via == via) if via else true()
        with self._write("claim messages") as conn:
            query = select(outbox.c.id).where(_due(now), mine).order_by(outbox.c.id).limit(limit)
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids), _due(now))
                .values(status="sending", claim=token, claimed_until=now + lease)
            )
            rows = conn.execute(
                select(outbox).where(outbox.c.claim == token).order_by(outbox.c.id)
            ).mappings()
            return [_queued(r) for r in rows]

    def mark_sent(self, message_id: int, now: datetime) -> None:
        with self._write("mark a message sent") as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == message_id)
                .values(
                    status="sent",
                    sent_at=now,
                    attempts=outbox.c.attempts + 1,
                    last_error=None,
                    claim=None,
                    claimed_until=None,
                )
            )

    def mark_failed(self, message_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: retried at `retry_at`, or given up for good when it is None."""
        values: dict[str, Any] = {
            "attempts": outbox.c.attempts + 1,
            "last_error": error[:1000],
            "claim": None,
            "claimed_until": None,
        }
        values |= {"not_before": retry_at, "status": "pending"} if retry_at else {"status": "failed"}
        with self._write("mark a message failed") as conn:
            conn.execute(update(outbox).where(outbox.c.id == message_id).values(**values))

    # -- digests -------------------------------------------------------------------------------------------

    def last_digest(self, chat: str) -> datetime | None:
        with self._read("read the last digest") as conn:
            return conn.execute(select(digests.c.last_until).where(digests.c.chat == chat)).scalar()

    def record_digest(
        self, chat: str, until: datetime, messages: Sequence[OutgoingMessage], via: str | None = None
    ) -> None:
        """Queue a digest's messages and move the chat's digest mark, in one transaction."""
        with self._write("record a digest") as conn:
            if messages:
                _insert_ignore(conn, outbox, [_outbox_row(m, until, via) for m in messages])
            if (
                conn.execute(update(digests).where(digests.c.chat == chat).values(last_until=until)).rowcount
                == 0
            ):
                _insert_ignore(conn, digests, [{"chat": chat, "last_until": until}])

    # -- chats and subscriptions ---------------------------------------------------------------------------

    def ensure_chat(self, chat: str, kind: str, title: str, now: datetime, timezone: str) -> ChatSettings:
        """Return a chat's settings, registering it (or reactivating it) on first contact."""
        with self._write("register a chat") as conn:
            _insert_ignore(
                conn,
                chats,
                [
                    {
                        "chat": chat,
                        "kind": kind,
                        "title": title[:300],
                        "timezone": timezone,
                        "digest_at": "08:00",
                        "paused": False,
                        "active": True,
                        "created_at": now,
                    }
                ],
            )
            conn.execute(
                update(chats).where(chats.c.chat == chat, chats.c.active.is_(False)).values(active=True)
            )
            row = conn.execute(select(chats).where(chats.c.chat == chat)).mappings().one()
        return ChatSettings(**row)

    def chat(self, chat: str) -> ChatSettings | None:
        with self._read("read a chat") as conn:
            row = conn.execute(select(chats).where(chats.c.chat == chat)).mappings().first()
        return ChatSettings(**row) if row else None

    def active_chats(self) -> list[ChatSettings]:
        with self._read("read chats") as conn:
            rows = conn.execute(
                select(chats).where(chats.c.active.is_(True)).order_by(chats.c.chat)
            ).mappings()
            return [ChatSettings(**row) for row in rows]

    def update_chat(self, chat: str, **values: Any) -> None:
        """Change a chat's settings (timezone, digest_at, paused, active)."""
        with self._write("update a chat") as conn:
            conn.execute(update(chats).where(chats.c.chat == chat).values(**values))

    def subscriptions(self, chat: str | None = None) -> list[Subscription]:
        """Return subscriptions of one chat, or of every active chat."""
        query = select(subscriptions).join(chats, chats.c.chat == subscriptions.c.chat)
        query = query.where(subscriptions.c.chat == chat) if chat else query.where(chats.c.active.is_(True))
        with self._read("read subscriptions") as conn:
            rows = conn.execute(query.order_by(subscriptions.c.chat, subscriptions.c.rule)).mappings()
            return [Subscription(r["chat"], r["rule"], r["mode"], r["phrase"]) for r in rows]

    def subscribe(self, subscription: Subscription) -> bool:
        """Add a subscription; return False if the chat already had it."""
        row = {
            "chat": subscription.chat,
            "rule": subscription.rule,
            "mode": subscription.mode,
            "phrase": subscription.phrase,
        }
        with self._write("subscribe") as conn:
            return _insert_ignore(conn, subscriptions, [row]) == 1

    def unsubscribe(self, chat: str, rule: str) -> bool:
        with self._write("unsubscribe") as conn:
            query = delete(subscriptions).where(subscriptions.c.chat == chat, subscriptions.c.rule == rule)
            return bool(conn.execute(query).rowcount)

    def set_mode(self, chat: str, rule: str, mode: str) -> bool:
        with self._write("change a delivery mode") as conn:
            query = update(subscriptions).where(subscriptions.c.chat == chat, subscriptions.c.rule == rule)
            return bool(conn.execute(query.values(mode=mode)).rowcount)

    def tracked_phrases(self) -> list[str]:
        """Return every personal phrase some active chat tracks."""
        query = (
            select(subscriptions.c.phrase)
            .distinct()
            .join(chats, chats.c.chat == subscriptions.c.chat)
            .where(subscriptions.c.phrase.is_not(None), chats.c.active.is_(True))
        )
        with self._read("read tracked phrases") as conn:
            return sorted(str(p) for p in conn.execute(query).scalars())

    # -- stats ---------------------------------------------------------------------------------------------

    def stats(self) -> Stats:
        with self._read("read statistics") as conn:

            def count(query: Any) -> int:
                return int(conn.execute(query).scalar() or 0)

            rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
            status: dict[str, int] = {str(row[0]): int(row[1]) for row in rows}
            return Stats(
                feeds=count(select(func.count()).select_from(feeds)),
                stories=count(select(func.count()).select_from(stories)),
                matched_stories=count(select(func.count(func.distinct(matches.c.story_id)))),
                clusters=count(select(func.count(func.distinct(stories.c.cluster_id)))),
                outbox_pending=int(status.get("pending", 0)),
                outbox_sent=int(status.get("sent", 0)),
                outbox_failed=int(status.get("failed", 0)),
            )

    # -- plumbing ------------------------------------------------------------------------------------------

    def _read(self, what: str) -> _Transaction:
        return _Transaction(self, what)

    _write = _read


class _Transaction:
    def __init__(self, store: Store, what: str) -> None:
        self.store = store
        self.what = what
        self._context: Any = None

    def __enter__(self) -> Connection:
        try:
            self._context = self.store.engine.begin()
            conn: Connection = self._context.__enter__()
            return conn
        except SQLAlchemyError as exc:
            raise _storage_error(self.what, exc, self.store.url) from None

    def __exit__(self, *exc_info: Any) -> None:
        try:
            self._context.__exit__(*exc_info)
        except SQLAlchemyError as exc:
            raise _storage_error(self.what, exc, self.store.url) from None
        if exc_info[0] is not None and isinstance(exc_info[1], SQLAlchemyError):
            raise _storage_error(self.what, exc_info[1], self.store.url) from None


def _storage_error(what: str, exc: SQLAlchemyError, url: str) -> StorageError:
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
    return StorageError(f"storage: unable to {what} ({url}): {reason}")


def open_store(url: str) -> Store:
    """Open (creating and migrating if needed) the database at a SQLAlchemy URL."""
    try:
        shown = redacted(url)
    except (ArgumentError, ValueError):  # its message repeats the URL, password included: say it our way
        raise StorageError(
            "storage: unable to open the database: NEWSBOT_DB is not a database URL "
            "(expected e.g. sqlite:///data/newsbot.db or postgresql+psycopg://user:password@host/db)"
        ) from None
    try:
        engine = make_engine(url)
        migrate(engine)
    except SQLAlchemyError as exc:
        raise _storage_error("open the database", exc, shown) from None
    except (OSError, ValueError) as exc:
        raise StorageError(f"storage: unable to open the database ({shown}): {exc}") from None
    except ImportError as exc:
        raise StorageError(
            f"storage: unable to open the database ({shown}): its driver is missing ({exc.name}); "
            "for PostgreSQL install newsbot[postgres]"
        ) from None
    return Store(engine, url)


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping any that collide with a unique key; return how many went in."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        raise StorageError(f"storage: unsupported database {dialect!r}; use SQLite or PostgreSQL")
    total = 0
    for row in rows:
        total += conn.execute(statement, row).rowcount
    return total


def _due(now: datetime) -> Any:
    """Messages ready to send: pending and not deferred, or claimed by a sender whose lease ran out."""
    pending = and_(
        outbox.c.status == "pending", or_(outbox.c.not_before.is_(None), outbox.c.not_before <= now)
    )
    abandoned = and_(outbox.c.status == "sending", outbox.c.claimed_until < now)
    return or_(pending, abandoned)


def _queued(row: Any) -> QueuedMessage:
    message = OutgoingMessage(row["key"], row["chat"], row["text"], row["plain_text"], row["disable_preview"])
    return QueuedMessage(row["id"], message, row["attempts"])


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _story_row(item: StoredStory, fetched_at: datetime) -> dict[str, Any]:
    s = item.story
    return {
        "id": s.id,
        "canonical_url": s.canonical_url or None,
        "url": s.url,
        "title": s.title,
        "summary": s.summary,
        "source": s.source,
        "feed": s.feed,
        "published": s.published,
        "fetched_at": fetched_at,
        "cluster_id": item.cluster_id,
    }


def _story(row: Any) -> Story:
    return Story(
        id=row["id"],
        title=row["title"],
        summary=row["summary"],
        url=row["url"],
        canonical_url=row["canonical_url"] or "",
        source=row["source"],
        published=row["published"],
        feed=row["feed"],
    )


def _match_row(story_id: str, m: Match) -> dict[str, Any]:
    return {
        "story_id": story_id,
        "rule": m.rule,
        "kind": m.kind.value,
        "term": m.term[:500],
        "field": m.field.value,
        "text": m.text[:500],
        "score": m.score,
        "span_start": m.start,
        "span_end": m.end,
    }


def _match(row: Any) -> Match:
    return Match(
        rule=row["rule"],
        kind=RuleKind(row["kind"]),
        term=row["term"],
        field=Field(row["field"]),
        text=row["text"],
        score=row["score"],
        start=row["span_start"],
        end=row["span_end"],
    )


def _outbox_row(m: OutgoingMessage, now: datetime, via: str | None = None) -> dict[str, Any]:
    return {
        "via": via,
        "key": m.key,
        "chat": m.chat,
        "text": m.text,
        "plain_text": m.plain_text,
        "disable_preview": m.disable_preview,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
    }
