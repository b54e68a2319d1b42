"""Decide who is told what: alert and digest messages per audience, with their outbox keys. Pure.

An audience is a chat with a delivery mode per followed rule: `alert` (an instant message for every new
story cluster), `digest` (the daily digest only) or `both`. Channels of the rule files become audiences
too: their `mode: alert` sends every followed rule at once, `digest` nothing at once, and `both` sends
rules marked `priority: alert` at once and everything in the digest. Telegram chats subscribe per rule.

Outbox keys make every message unique per (chat, alert or digest period, part), so a retried job or a
restart never queues the same message twice. A digest is due once a day, at the audience's local
`digest_at`, once that moment has passed since its last digest (daylight saving included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.digest import build_items, build_sections, period_heading, render_alert, render_digest, to_plain
from bot.model import ChatSettings, DigestStory, OutgoingMessage, Subscription
from bot.watchlist import Channel, Mode, Priority, Watchlist


@dataclass(frozen=True, slots=True)
class Audience:
    chat: str
    timezone: str
    digest_at: time
    modes: Mapping[str, Mode]  # rule id -> how this chat hears of it, in the order it follows them
    paused: bool = False

    def alerts(self, rule_id: str) -> bool:
        return not self.paused and self.modes.get(rule_id) in (Mode.ALERT, Mode.BOTH)

    def digests(self) -> list[str]:
        return [rule for rule, mode in self.modes.items() if mode in (Mode.DIGEST, Mode.BOTH)]


def channel_audience(watchlist: Watchlist, channel: Channel) -> Audience:
    """The audience of a rule-file channel."""
    modes = {}
    for rule in watchlist.followed_by(channel):
        if channel.mode is Mode.BOTH:
            modes[rule.id] = Mode.BOTH if rule.priority is Priority.ALERT else Mode.DIGEST
        else:
            modes[rule.id] = channel.mode
    return Audience(channel.chat, channel.timezone, channel.digest_at, modes)


def chat_audiences(chats: Iterable[ChatSettings], subscriptions: Iterable[Subscription]) -> list[Audience]:
    """Audiences of Telegram chats from their subscriptions (chats with none are left out)."""
    by_chat: dict[str, dict[str, Mode]] = {}
    for sub in subscriptions:
        by_chat.setdefault(sub.chat, {})[sub.rule] = Mode(sub.mode)
    audiences = []
    for chat in chats:
        if chat.active and chat.chat in by_chat:
            hour, minute = (int(x) for x in chat.digest_at.split(":"))
            audiences.append(
                Audience(chat.chat, chat.timezone, time(hour, minute), by_chat[chat.chat], chat.paused)
            )
    return audiences


def audiences(
    watchlist: Watchlist, chats: Iterable[ChatSettings], subscriptions: Iterable[Subscription]
) -> list[Audience]:
    """Every audience: the rule files' channels, then the subscribed Telegram chats."""
    return [channel_audience(watchlist, c) for c in watchlist.channels] + chat_audiences(chats, subscriptions)


def alert_messages(
    watchlist: Watchlist, audiences: Sequence[Audience], new_clusters: Sequence[DigestStory]
) -> list[OutgoingMessage]:
    """Return the instant alerts for stories that started a new cluster."""
    names = {r.id: r.name for r in watchlist.rules}
    messages = []
    for audience in audiences:
        tz = ZoneInfo(audience.timezone)
        for story in new_clusters:
            rule = next((m.rule for m in story.matches if audience.alerts(m.rule)), None)
            if rule is None:
                continue
            text = render_alert(build_items([story])[0], rule, names.get(rule, rule), tz, names)
            key = f"alert:{audience.chat}:{story.cluster_id}"
            messages.append(OutgoingMessage(key, audience.chat, text, to_plain(text), False))
    return messages


def digest_messages(
    watchlist: Watchlist,
    audience: Audience,
    stories: Sequence[DigestStory],
    now: datetime,
    heading: str = "newsbot digest",
    key: str = "",
) -> list[OutgoingMessage]:
    """Return an audience's digest of the stories, keyed by its local date (or `key`)."""
    tz = ZoneInfo(audience.timezone)
    names = {r.id: r.name for r in watchlist.rules}
    followed = [(rule, names.get(rule, rule)) for rule in audience.digests()]
    sections = build_sections(build_items(stories), followed)
    parts = render_digest(sections, tz, period_heading(heading, now, tz), names)
    period = key or now.astimezone(tz).date().isoformat()
    return [
        OutgoingMessage(f"digest:{audience.chat}:{period}:{i + 1}", audience.chat, text, to_plain(text), True)
        for i, text in enumerate(parts)
    ]


def digest_due(audience: Audience, last: datetime, now: datetime) -> bool:
    """Tell whether the audience's daily digest moment has passed since `last`."""
    if audience.paused or not audience.digests():
        return False
    return last < latest_digest_moment(audience, now) <= now


def latest_digest_moment(audience: Audience, now: datetime) -> datetime:
    """The most recent local `digest_at` at or before now, as an aware time (DST-correct)."""
    tz = ZoneInfo(audience.timezone)
    local = now.astimezone(tz)
    moment = datetime.combine(local.date(), audience.digest_at, tzinfo=tz)
    if moment > local:
        moment = datetime.combine(local.date() - timedelta(days=1), audience.digest_at, tzinfo=tz)
    return moment
