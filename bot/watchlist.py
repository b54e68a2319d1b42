"""The rule model: feeds, people, topics and channels, and the checks that span them.

Checks of a single value (a duration, a timezone, a term) are plain functions that return an error message
or a parsed value; `rulefiles` runs them while it reads YAML so each problem is tied to its line. Checks that
span entities (duplicate ids, a channel following an unknown id) run here on the built `Watchlist`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import RuleProblem
from bot.model import RuleKind
from bot.normalize import words


class Priority(enum.StrEnum):
    ALERT = "alert"
    DIGEST = "digest"


class Fields(enum.StrEnum):
    TITLE = "title"
    SUMMARY = "summary"
    BOTH = "both"


class Mode(enum.StrEnum):
    ALERT = "alert"
    DIGEST = "digest"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an entity was defined, and the lines of its fields (`"follow[2]"` -> 14)."""

    file: str
    line: int
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, field_path: str) -> int:
        return self.lines.get(field_path, self.line)


NOWHERE = Origin("<code>", 0)


@dataclass(frozen=True, slots=True)
class FeedRule:
    name: str
    url: str
    every: timedelta | None = None
    origin: Origin = NOWHERE


@dataclass(frozen=True, slots=True)
class Rule:
    """A person or a topic: what counts as a mention, and how the story is told to followers."""

    id: str
    name: str
    kind: RuleKind
    terms: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    all: tuple[tuple[str, ...], ...] = ()
    none: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    fuzzy: int | None = None
    fields: Fields = Fields.BOTH
    priority: Priority = Priority.DIGEST
    origin: Origin = NOWHERE


@dataclass(frozen=True, slots=True)
class Channel:
    chat: str
    follow: tuple[str, ...] | None  # None means every rule
    mode: Mode = Mode.DIGEST
    digest_at: time = time(8, 0)
    timezone: str = "Europe/London"
    origin: Origin = NOWHERE
    weekly: bool = False  # also a weekly digest with the trends chart, on Mondays at digest_at

    def follows(self, rule_id: str) -> bool:
        return self.follow is None or rule_id in self.follow


@dataclass(frozen=True, slots=True)
class Watchlist:
    feeds: tuple[FeedRule, ...] = ()
    people: tuple[Rule, ...] = ()
    topics: tuple[Rule, ...] = ()
    channels: tuple[Channel, ...] = ()

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.people + self.topics

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def followed_by(self, channel: Channel) -> tuple[Rule, ...]:
        """Return the rules a channel follows, in the order the channel lists them."""
        if channel.follow is None:
            return self.rules
        by_id = {r.id: r for r in self.rules}
        return tuple(by_id[i] for i in channel.follow if i in by_id)


_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
MIN_INTERVAL = timedelta(seconds=30)
MAX_INTERVAL = timedelta(days=7)


def parse_duration(
    value: str | int, minimum: timedelta = MIN_INTERVAL, maximum: timedelta = MAX_INTERVAL
) -> timedelta:
    """Parse `90s`, `10m`, `1h30m`, `2d` or a number of seconds within bounds (default: a poll interval)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 10m or 1h, got {value!r}")
    if isinstance(value, int):
        seconds = value
    else:
        m = _DURATION.match(value)
        if not value.strip() or m is None or not any(m.groups()):
            raise ValueError(f"expected a duration such as 90s, 10m, 1h30m or 2d, got {value!r}")
        d, h, mi, s = (int(g or 0) for g in m.groups())
        seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    interval = timedelta(seconds=seconds)
    if not minimum <= interval <= maximum:
        raise ValueError(f"{value!r} is outside the allowed range of {_span(minimum)} to {_span(maximum)}")
    return interval


def parse_span(value: str | int) -> timedelta:
    """Parse a duration for windows and look-backs (1 second to 10 years)."""
    return parse_duration(value, timedelta(seconds=1), timedelta(days=3650))


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_clock(value: str) -> time:
    """Parse a local time of day written `HH:MM`."""
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if m is None:
        raise ValueError(f"expected a time of day as HH:MM (00:00 to 23:59), got {value!r}")
    return time(int(m.group(1)), int(m.group(2)))


def check_timezone(value: str) -> str:
    """Return the name if it is an IANA timezone, else raise ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Europe/London") from None
    return value


def check_term(term: str) -> str:
    """Return the term if it can be matched; raise ValueError for terms that would match everything or nothing."""
    stripped = term.strip()
    if stripped.endswith("*"):
        stem = stripped[:-1]
        if "*" in stem:
            raise ValueError(f"{term!r}: a wildcard is only allowed at the end of a term")
        stem_words = words(stem)
        if len(stem_words) == 1 and len(stem_words[0]) < 3:
            raise ValueError(f"{term!r}: a one-word wildcard needs at least 3 letters before the *")
    elif "*" in stripped:
        raise ValueError(f"{term!r}: a wildcard is only allowed at the end of a term")
    normal = words(stripped.rstrip("*"))
    if not normal:
        raise ValueError(f"{term!r} has no letters or digits to match")
    if len(normal) == 1 and len(normal[0]) < 2:
        raise ValueError(f"{term!r} is a single character and would match almost every story")
    return stripped


def check_references(watchlist: Watchlist) -> list[RuleProblem]:
    """Find problems that span entities: ids defined twice, feeds listed twice, unknown follows."""
    problems: list[RuleProblem] = []
    seen: dict[str, Rule] = {}
    for rule in watchlist.rules:
        first = seen.get(rule.id)
        if first is not None:
            problems.append(
                RuleProblem(
                    rule.origin.file,
                    rule.origin.line_of("id"),
                    f"{rule.kind}s.id",
                    f"duplicate id {rule.id!r}: also defined at {first.origin.file}:{first.origin.line_of('id')}",
                )
            )
        else:
            seen[rule.id] = rule
    urls: dict[str, FeedRule] = {}
    for feed in watchlist.feeds:
        if feed.url in urls:
            other = urls[feed.url].origin
            problems.append(
                RuleProblem(
                    feed.origin.file,
                    feed.origin.line_of("url"),
                    "feeds.url",
                    f"feed {feed.url!r} is listed twice (also at {other.file}:{other.line_of('url')})",
                )
            )
        urls.setdefault(feed.url, feed)
    problems.extend(_check_channels(watchlist, seen))
    return problems


def _check_channels(watchlist: Watchlist, rules: Mapping[str, Rule]) -> Iterator[RuleProblem]:
    chats: dict[str, Channel] = {}
    for channel in watchlist.channels:
        if channel.chat in chats:
            other = chats[channel.chat].origin
            yield RuleProblem(
                channel.origin.file,
                channel.origin.line_of("chat"),
                "channels.chat",
                f"chat {channel.chat!r} is configured twice (also at {other.file}:{other.line})",
            )
        chats.setdefault(channel.chat, channel)
        for i, rule_id in enumerate(channel.follow or ()):
            if rule_id not in rules:
                yield RuleProblem(
                    channel.origin.file,
                    channel.origin.line_of(f"follow[{i}]"),
                    f"channels[{channel.chat}].follow",
                    f"unknown id {rule_id!r}{_suggestion(rule_id, rules)}",
                )


def _suggestion(unknown: str, rules: Mapping[str, Rule]) -> str:
    close = [i for i in rules if _shares_word(unknown, i)]
    return f" (did you mean {', '.join(repr(c) for c in close[:3])}?)" if close else ""


def _shares_word(a: str, b: str) -> bool:
    return bool(set(a.split("-")) & set(b.split("-")) - {"the", "of", "and"})


TRACK_PREFIX = "track:"
MAX_RULE_ID = 100  # storage keeps rule ids in VARCHAR(100), which PostgreSQL enforces


def tracked_id(phrase: str) -> str:
    """The rule id of a personal /track phrase: `track:` and its normalised words."""
    return TRACK_PREFIX + "-".join(words(phrase))[: MAX_RULE_ID - len(TRACK_PREFIX)]


def with_tracked(watchlist: Watchlist, phrases: Iterable[str]) -> Watchlist:
    """Return the watchlist with personal phrases added as topics, matched like any other rule."""
    known = {r.id for r in watchlist.rules}
    extra = []
    for phrase in phrases:
        rule_id = tracked_id(phrase)
        if rule_id not in known:
            known.add(rule_id)
            extra.append(Rule(id=rule_id, name=f"“{phrase}”", kind=RuleKind.TOPIC, terms=(phrase,)))
    return replace(watchlist, topics=watchlist.topics + tuple(extra)) if extra else watchlist
