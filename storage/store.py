"""`Store`: newsbot's persistence, as domain verbs over `bot.model` values. One transaction per unit of work."""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from bot.errors import StorageError
from bot.model import (
    ChatSettings,
    DigestStory,
    FeedState,
    Field,
    Match,
    OutgoingMessage,
    RuleKind,
    Sighting,
    Story,
    Subscription,
)
from storage.engine import make_engine, redacted
from storage.migrations import current_revision, head_revision, migrate
from storage.schema import chats, digests, feeds, matches, outbox, stories, subscriptions

_CHUNK = 400
_FEED_STATE = (
    feeds.c.url,
    feeds.c.name,
    feeds.c.etag,
    feeds.c.last_modified,
    feeds.c.last_polled,
    feeds.c.last_success,
    feeds.c.last_error,
    feeds.c.error_count,
    feeds.c.items_seen,
    feeds.c.next_poll,
    feeds.c.fetch_url,
    feeds.c.poll_interval,
)
_ATTEMPTS = 8  # for a unit of work PostgreSQL aborted to break a deadlock
_TRANSIENT = {"40001", "40P01"}  # SQLSTATE serialization_failure, deadlock_detected
_INDEX_BYTES = 2600  # a PostgreSQL btree entry holds at most 2704 bytes
T = TypeVar("T")
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
    "fetch_url",
    "poll_interval",
)
# Built once: a poll cycle saves thousands of feed states, and building the UPDATE on each call made
# record_fetch cost ~450 us of CPU instead of ~100 us (SQLite, 2,000 feeds). Saving ends the lease.
_UPDATE_FEED_STATE = (
    update(feeds)
    .where(feeds.c.url == bindparam("feed_url"))
    .values(
        {**{name: bindparam(name) for name in _FEED_STATE_VALUES}, "lease_owner": None, "lease_until": None}
    )
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
        self._password = make_url(url).password

    def close(self) -> None:
        self.engine.dispose()

    # -- feeds ---------------------------------------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState | None:
        with self._read("read feed state") as conn:
            row = conn.execute(select(*_FEED_STATE).where(feeds.c.url == url)).mappings().first()
        return FeedState(**row) if row else None

    def feed_states(self) -> list[FeedState]:
        with self._read("read feed states") as conn:
            rows = conn.execute(select(*_FEED_STATE).order_by(feeds.c.name, feeds.c.url)).mappings().all()
        return [FeedState(**row) for row in rows]

    def record_fetch(self, state: FeedState) -> None:
        """Save a feed's state after a poll (validators, health counters, schedule) and end its lease."""
        values = _fit(feeds, {name: getattr(state, name) for name in _FEED_STATE_VALUES})
        with self._write("record a fetch") as conn:
            done = conn.execute(_UPDATE_FEED_STATE, {"feed_url": state.url, **values}).rowcount
            if not done:
                _insert_ignore(conn, feeds, [{"url": state.url, **values}])

    def sync_feeds(self, listed: Sequence[tuple[str, str]]) -> None:
        """Make the feeds table follow the rule files: add new feeds (due at once), retire unlisted ones.

        `listed` holds (url, name) pairs. A retired feed keeps its history and is polled again if relisted.
        """
        wanted = {url for url, _ in listed}

        def sync(conn: Connection) -> None:
            rows = conn.execute(select(feeds.c.url, feeds.c.active)).all()
            known = {row.url: row.active for row in rows}
            fresh = [{"url": url, "name": name, "active": True} for url, name in listed if url not in known]
            _insert_ignore(conn, feeds, fresh)
            # Only rows that change, in key order, so pollers starting together do not deadlock.
            retire = sorted(url for url, active in known.items() if active and url not in wanted)
            revive = sorted(url for url, active in known.items() if not active and url in wanted)
            for urls, active in ((retire, False), (revive, True)):
                for chunk in _chunks(urls):
                    conn.execute(update(feeds).where(feeds.c.url.in_(chunk)).values(active=active))

        self._retrying("register feeds", sync)

    def claim_feeds(self, owner: str, now: datetime, limit: int, lease: timedelta) -> list[FeedState]:
        """Lease up to `limit` listed feeds that are due, for one poller; none is handed to two pollers.

        Due: never polled, or `next_poll` has come; and not leased, or its lease ran out (a dead poller's
        feeds are taken over then). On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so pollers
        claiming at once skip each other's rows instead of waiting; SQLite serialises writers.
        """
        free = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now)
        due = or_(feeds.c.next_poll.is_(None), feeds.c.next_poll <= now)
        pick = (
            select(feeds.c.url)
            .where(feeds.c.active.is_(True), due, free)
            .order_by(feeds.c.next_poll.asc().nulls_first(), feeds.c.url)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def take(conn: Connection) -> list[FeedState]:
            urls = list(conn.execute(pick).scalars())
            if not urls:
                return []
            conn.execute(
                update(feeds)
                .where(feeds.c.url.in_(urls), free)
                .values(lease_owner=owner, lease_until=now + lease)
            )
            rows = conn.execute(
                select(*_FEED_STATE).where(feeds.c.url.in_(urls), feeds.c.lease_owner == owner)
            ).mappings()
            return [FeedState(**row) for row in rows]

        return self._retrying("claim feeds", take)

    def release_feeds(self, owner: str, urls: Sequence[str] | None = None) -> int:
        """End a poller's leases (all of them, or on `urls`) without polling: the feeds are due again."""
        query = update(feeds).where(feeds.c.lease_owner == owner)
        if urls is not None:
            query = query.where(feeds.c.url.in_(urls))
        with self._write("release feeds") as conn:
            return int(conn.execute(query.values(lease_owner=None, lease_until=None)).rowcount)

    def outbox_depth(self) -> int:
        with self._read("count queued messages") as conn:
            query = (
                select(func.count()).select_from(outbox).where(outbox.c.status.in_(("pending", "sending")))
            )
            return int(conn.execute(query).scalar_one())

    # -- stories -------------------------------------------------------------------------------------------

    def unseen(self, candidates: Sequence[Story]) -> list[Story]:
        """Return the stories not stored before (by id or canonical URL), each once, in input order."""
        seen_ids: set[str] = set()
        seen_urls: set[str] = set()
        keys = [
            (_fit_value(stories.c.id, s.id), _fit_value(stories.c.canonical_url, s.canonical_url))
            for s in candidates
        ]
        with self._read("look up stories") as conn:
            for chunk in _chunks(keys):
                ids = [story_id for story_id, _ in chunk]
                urls = [url for _, url in chunk if url]
                query = select(stories.c.id, stories.c.canonical_url).where(
                    or_(stories.c.id.in_(ids), stories.c.canonical_url.in_(urls))
                )
                for row in conn.execute(query):
                    seen_ids.add(row.id)
                    if row.canonical_url:
                        seen_urls.add(row.canonical_url)
        fresh = []
        for story, (story_id, url) in zip(candidates, keys, strict=True):
            if story_id in seen_ids or (url and url in seen_urls):
                continue
            seen_ids.add(story_id)
            if url:
                seen_urls.add(url)
            fresh.append(story)
        return fresh

    def save_stories(self, items: Sequence[StoredStory], fetched_at: datetime) -> list[str]:
        """Store new stories with their cluster and matches; return the ids actually inserted.

        Safe against other workers saving the same stories at the same time: a story (by id or canonical
        URL) goes in once, and only the worker that inserted it gets its id back (and alerts it).
        """
        if not items:
            return []

        ordered = sorted(items, key=lambda i: i.story.id)  # one lock order for every worker
        rows = [_fit(stories, _story_row(item, fetched_at)) for item in ordered]

        def save(conn: Connection) -> list[str]:
            new = set(_insert_new(conn, stories, rows))  # what was stored before, or meanwhile, is skipped
            inserted, found = [], []
            for item, row in zip(ordered, rows, strict=True):
                if row["id"] in new:
                    new.discard(row["id"])  # the first of a repeated id went in; the repeats did not
                    inserted.append(item.story.id)
                    found += [_fit(matches, _match_row(row["id"], m)) for m in item.matches]
            if found:
                conn.execute(matches.insert(), found)
            return inserted

        return self._retrying("save stories", save)

    def recent_stories(self, since: datetime, batch: int = 1_000) -> Generator[tuple[Story, str], None, None]:
        """Yield stories fetched since a time with their cluster ids, oldest first (to rebuild the index).

        Rows are fetched `batch` at a time (PostgreSQL: a server-side cursor), in one read transaction, so
        a restart holds a batch beside the index it rebuilds rather than the whole window.
        """
        query = (
            select(stories).where(stories.c.fetched_at >= since).order_by(stories.c.fetched_at, stories.c.id)
        )
        with self._read("read recent stories") as conn:
            for row in conn.execution_options(yield_per=batch).execute(query).mappings():
                yield _story(row), row["cluster_id"]

    def story_ids_since(self, since: datetime) -> list[str]:
        """Ids of the stories fetched since a time (cheap: to find what other pollers stored)."""
        with self._read("read recent story ids") as conn:
            return list(conn.execute(select(stories.c.id).where(stories.c.fetched_at >= since)).scalars())

    def stories_with_ids(self, ids: Sequence[str]) -> list[tuple[Story, str]]:
        """Stories by id with their cluster ids, oldest first."""
        found: list[Any] = []
        with self._read("read stories") as conn:
            for chunk in _chunks(ids):
                found.extend(conn.execute(select(stories).where(stories.c.id.in_(chunk))).mappings().all())
        found.sort(key=lambda row: row["fetched_at"])
        return [(_story(row), row["cluster_id"]) for row in found]

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
        # In the order given: that is the order they are sent in (a chart before its digest, part 1 before
        # part 2). Two writers racing on the same keys may deadlock; `_retrying` runs the loser again.
        rows = [_outbox_row(m, now, via) for m in messages]
        if not rows:
            return 0
        return self._retrying("queue messages", lambda conn: _insert_ignore(conn, outbox, rows))

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
        take the same message: on PostgreSQL the due rows are locked with `FOR UPDATE SKIP LOCKED`, so
        concurrent senders take disjoint batches without waiting for each other; SQLite serialises writers,
        and the update re-checks that each row is still due. A sender that dies after claiming loses
        nothing: after the lease the message is due again. (Telegram has no idempotency key: a sender
        killed after Telegram accepted a message but before `mark_sent` committed will send that message
        again. That window is one database commit.)
        """
        token = uuid.uuid4().hex
        mine = or_(outbox.c.via.is_(None), outbox.c.via == via) if via else true()

        def take(conn: Connection) -> list[QueuedMessage]:
            query = (
                select(outbox.c.id)
                .where(_due(now), mine)
                .order_by(outbox.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
            )
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

        return self._retrying("claim messages", take)

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
        values = _fit(outbox, values)
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
        rows = [_outbox_row(m, until, via) for m in messages]  # in sending order, as in `enqueue`

        def record(conn: Connection) -> None:
            _insert_ignore(conn, outbox, rows)
            if (
                conn.execute(update(digests).where(digests.c.chat == chat).values(last_until=until)).rowcount
                == 0
            ):
                _insert_ignore(conn, digests, [{"chat": chat, "last_until": until}])

        self._retrying("record a digest", record)

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
        values = _fit(chats, values)
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

    def _retrying(self, what: str, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction, again if PostgreSQL aborted it to break a deadlock.

        Only for work that may safely run twice: inserts that skip what exists, claims of what is due.
        """
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except DBAPIError as exc:
                if attempt < _ATTEMPTS and getattr(exc.orig, "sqlstate", None) in _TRANSIENT:
                    # Backing off further each time: racers that deadlocked once tend to meet again at once.
                    time.sleep(random.uniform(0, 0.01 * 2**attempt))
                    continue
                raise _storage_error(what, exc, self.url, self._password) from None
            except SQLAlchemyError as exc:
                raise _storage_error(what, exc, self.url, self._password) from None
        raise AssertionError("unreachable")


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
            raise _storage_error(self.what, exc, self.store.url, self.store._password) from None

    def __exit__(self, *exc_info: Any) -> None:
        try:
            self._context.__exit__(*exc_info)
        except SQLAlchemyError as exc:
            raise _storage_error(self.what, exc, self.store.url, self.store._password) from None
        if exc_info[0] is not None and isinstance(exc_info[1], SQLAlchemyError):
            raise _storage_error(self.what, exc_info[1], self.store.url, self.store._password) from None


def _storage_error(what: str, exc: BaseException, url: str, password: str | None) -> StorageError:
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
    if password:  # drivers never print it today; make sure no future message does
        reason = reason.replace(password, "***")
    return StorageError(f"storage: unable to {what} ({url}): {reason}")


def open_store(url: str) -> Store:
    """Open (creating and migrating if needed) the database at a SQLAlchemy URL.

    Workers starting together are safe: migrations run one at a time (see `storage.migrations.migrate`).
    """
    engine = _engine(url, "open the database")
    _translating(url, "open the database", lambda: migrate(engine), engine)
    return Store(engine, url)


@dataclass(frozen=True, slots=True)
class SchemaRevision:
    url: str  # the database, password hidden
    current: str | None  # None: never migrated
    latest: str  # the newest revision this code knows

    @property
    def is_latest(self) -> bool:
        return self.current == self.latest


def upgrade_database(url: str) -> tuple[SchemaRevision, SchemaRevision]:
    """Apply every migration the database lacks; return its revision before and after."""
    engine = _engine(url, "upgrade the database")
    try:
        before = _translating(url, "read the schema revision", lambda: _revision(engine, url), engine)
        _translating(url, "upgrade the database", lambda: migrate(engine), engine)
        return before, _translating(url, "read the schema revision", lambda: _revision(engine, url), engine)
    finally:
        engine.dispose()


def schema_revision(url: str) -> SchemaRevision:
    """Return the database's schema revision and the latest one, changing nothing."""
    engine = _engine(url, "read the schema revision")
    try:
        return _translating(url, "read the schema revision", lambda: _revision(engine, url), engine)
    finally:
        engine.dispose()


def _revision(engine: Engine, url: str) -> SchemaRevision:
    with engine.connect() as conn:
        return SchemaRevision(redacted(url), current_revision(conn), head_revision())


def _engine(url: str, what: str) -> Engine:
    try:
        shown = redacted(url)
    except (ArgumentError, ValueError):  # its message repeats the URL, password included: say it our way
        raise StorageError(
            f"storage: unable to {what}: NEWSBOT_DB is not a database URL "
            "(expected e.g. sqlite:///data/newsbot.db or postgresql+psycopg://user:password@host/db)"
        ) from None
    try:
        return make_engine(url)
    except ImportError as exc:
        raise StorageError(
            f"storage: unable to {what} ({shown}): its driver is missing ({exc.name}); "
            "for PostgreSQL install newsbot[postgres]"
        ) from None
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise _storage_error(what, exc, shown, make_url(url).password) from None


def _translating(url: str, what: str, work: Callable[[], T], engine: Engine) -> T:
    """Run work, turning database errors into a StorageError without the password (engine closed)."""
    try:
        return work()
    except (SQLAlchemyError, OSError, ValueError) as exc:
        engine.dispose()
        raise _storage_error(what, exc, redacted(url), make_url(url).password) from None
    except BaseException:
        engine.dispose()
        raise


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping any that collide with a unique key; return how many went in."""
    return len(_insert_new(conn, table, rows))


def _insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[Any]:
    """Insert rows in one statement, skipping any that collide with a unique key (also with each other);
    return the first primary-key column of the rows that went in."""
    if not rows:
        return []
    dialect = conn.dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        raise StorageError(f"storage: unsupported database {dialect!r}; use SQLite or PostgreSQL")
    # RETURNING, not rowcount: psycopg 3 reports an INSERT's rowcount as -1 once the cursor is closed.
    key = next(iter(table.primary_key.columns))
    return list(conn.execute(statement.returning(key), [_fit(table, row) for row in rows]).scalars())


def _fit(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """Make text values storable on every backend, the same way on each (see `_fit_value`)."""
    return {name: _fit_value(table.c[name], value) for name, value in values.items()}


def _fit_value(column: Column[Any], value: Any) -> Any:
    """Drop NUL characters (PostgreSQL rejects them) and keep within the column's length (PostgreSQL
    enforces VARCHAR(n), SQLite does not): text is cut; a key is cut and suffixed with a hash of the
    whole, so distinct keys stay distinct and the same key always maps to the same stored value."""
    if not isinstance(value, str):
        return value
    value = value.replace("\x00", "")
    length = getattr(column.type, "length", None)
    if not length:
        return value
    if not (column.primary_key or column.unique):
        return value[:length]
    if len(value) <= length and len(value.encode()) <= _INDEX_BYTES:
        return value
    suffix = "#" + hashlib.sha256(value.encode()).hexdigest()[:24]
    head = value[: length - len(suffix)]
    while len(head.encode()) > _INDEX_BYTES - len(suffix):
        head = head[: len(head) * 3 // 4]
    return head + suffix


def _due(now: datetime) -> Any:
    """Messages ready to send: pending and not deferred, or claimed by a sender whose lease ran out."""
    pending = and_(
        outbox.c.status == "pending", or_(outbox.c.not_before.is_(None), outbox.c.not_before <= now)
    )
    abandoned = and_(outbox.c.status == "sending", outbox.c.claimed_until < now)
    return or_(pending, abandoned)


def _queued(row: Any) -> QueuedMessage:
    message = OutgoingMessage(
        row["key"], row["chat"], row["text"], row["plain_text"], row["disable_preview"], row["photo"]
    )
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
        "photo": m.photo,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
    }


# -- trends (issue 8) ---------------------------------------------------------------------------------------


def sightings(store: Store, since: datetime, until: datetime) -> list[Sighting]:
    """Every stored match of a story fetched in [since, until + 2 days), with the story's cluster and moment.

    The moment is the published time when it is known and not after the fetch, else the fetch time.
    """
    query = (
        select(matches.c.rule, stories.c.cluster_id, stories.c.published, stories.c.fetched_at)
        .join(stories, matches.c.story_id == stories.c.id)
        .where(stories.c.fetched_at >= since, stories.c.fetched_at < until + timedelta(days=2))
    )
    with store._read("read the trends") as conn:
        rows = conn.execute(query).all()
    return [
        Sighting(rule, cluster, published if published is not None and published <= fetched else fetched)
        for rule, cluster, published, fetched in rows
    ]


def has_message(store: Store, key: str) -> bool:
    """Tell whether a message with this outbox key was ever queued (sent or not)."""
    with store._read("read the outbox") as conn:
        return conn.execute(select(outbox.c.id).where(outbox.c.key == key)).first() is not None
