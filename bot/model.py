"""The core value types passed between newsbot's layers. Data only."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class Field(enum.StrEnum):
    TITLE = "title"
    SUMMARY = "summary"


class RuleKind(enum.StrEnum):
    PERSON = "person"
    TOPIC = "topic"


@dataclass(frozen=True, slots=True)
class Story:
    """One news item, as parsed from a feed or read from JSONL."""

    id: str
    title: str
    summary: str = ""
    url: str = ""
    canonical_url: str = ""
    source: str = ""
    published: datetime | None = None
    feed: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """Why a story matched a rule: the best term found, where, and how closely."""

    rule: str
    kind: RuleKind
    term: str
    field: Field
    text: str
    score: float
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class ClusterAssignment:
    """Where the clusterer put a story: the cluster id is the id of its first story."""

    story_id: str
    cluster_id: str
    is_new_cluster: bool
    reason: str = "new"
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class DigestStory:
    """A stored story as the digest sees it."""

    id: str
    title: str
    url: str
    source: str
    published: datetime
    cluster_id: str
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One entry of a digest: a cluster, headed by its most representative story, with the other outlets that
    carried it and some of its other headlines."""

    head: DigestStory
    also: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    title_rules: tuple[str, ...] = ()  # the rules matched in a headline, which say best what it is about
    # Stories of the cluster under headlines of their own (a reaction, a follow-up), shown under the head.
    related: tuple[DigestStory, ...] = ()


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message waiting in the outbox. `key` is unique per (chat, period or alert, part)."""

    key: str
    chat: str
    text: str
    plain_text: str = ""
    disable_preview: bool = True
    photo: bytes | None = None  # a PNG; `text` (at most 1,024 characters) is then its caption


@dataclass(frozen=True, slots=True)
class FeedState:
    """What newsbot knows about one feed's health and its conditional-GET validators."""

    url: str
    name: str = ""
    etag: str | None = None
    last_modified: str | None = None
    last_polled: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    error_count: int = 0
    items_seen: int = 0
    next_poll: datetime | None = None
    fetch_url: str | None = None  # where the feed lives now (a permanent redirect, or found on a web page)
    poll_interval: int | None = None  # seconds: the adaptive interval between polls

    @property
    def location(self) -> str:
        return self.fetch_url or self.url


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one fetch. `error` is set for the feed's own failures; fetch never raises for them."""

    url: str
    status: int = 0
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    final_url: str = ""
    error: str | None = None
    elapsed: float = 0.0
    moved_to: str | None = None  # the new address after permanent redirects (301, 308) only

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Stories parsed from one feed document, and a note if the document was malformed."""

    stories: tuple[Story, ...]
    title: str = ""
    warning: str | None = None
    error: str | None = None
    poll_hint: timedelta | None = None  # the publisher's own: <ttl>, or sy:updatePeriod / sy:updateFrequency
    feed_links: tuple[str, ...] = ()  # a web page's <link rel="alternate"> feeds, when it is not a feed


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """A Telegram chat that talks to the bot: where and when its digest goes."""

    chat: str
    kind: str = "private"
    title: str = ""
    timezone: str = "Europe/London"
    digest_at: str = "08:00"
    paused: bool = False
    active: bool = True
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat follows a rule (or a personal phrase, `phrase` set) in a delivery mode."""

    chat: str
    rule: str
    mode: str = "both"
    phrase: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """A stored match for the trends: the rule, the story's cluster, and the story's moment."""

    rule: str
    cluster: str
    when: datetime
