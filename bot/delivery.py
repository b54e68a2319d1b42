"""Decide who is told what: alert and digest messages per channel, with their outbox keys. Pure.

Channel modes: `alert` sends an instant message for every new story cluster on a followed rule; `both`
sends instant messages for rules marked `priority: alert` and a daily digest of everything followed;
`digest` sends the daily digest only. Outbox keys make every message unique per (chat, alert or digest
period, part), so a retried job or a restart never queues the same message twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.digest import build_items, build_sections, period_heading, render_alert, render_digest, to_plain
from bot.model import DigestStory, OutgoingMessage
from bot.watchlist import Channel, Mode, Priority, Rule, Watchlist


def alert_messages(watchlist: Watchlist, new_clusters: Sequence[DigestStory]) -> list[OutgoingMessage]:
    """Return the instant alerts for stories that started a new cluster."""
    messages = []
    rules = {r.id: r for r in watchlist.rules}
    names = {r.id: r.name for r in watchlist.rules}
    for channel in watchlist.channels:
        if channel.mode is Mode.DIGEST:
            continue
        tz = ZoneInfo(channel.timezone)
        for story in new_clusters:
            rule = next(
                (rules[m.rule] for m in story.matches if m.rule in rules and _alerts(channel, rules[m.rule])),
                None,
            )
            if rule is None:
                continue
            item = build_items([story])[0]
            text = render_alert(item, rule.id, rule.name, tz, names)
            messages.append(
                OutgoingMessage(
                    f"alert:{channel.chat}:{story.cluster_id}", channel.chat, text, to_plain(text), False
                )
            )
    return messages


def _alerts(channel: Channel, rule: Rule) -> bool:
    if not channel.follows(rule.id):
        return False
    return channel.mode is Mode.ALERT or rule.priority is Priority.ALERT


def digest_messages(
    watchlist: Watchlist,
    channel: Channel,
    stories: Sequence[DigestStory],
    now: datetime,
    heading: str = "newsbot digest",
) -> list[OutgoingMessage]:
    """Return a channel's digest for the period ending now, keyed by the channel's local date."""
    tz = ZoneInfo(channel.timezone)
    followed = [(r.id, r.name) for r in watchlist.followed_by(channel)]
    sections = build_sections(build_items(stories), followed)
    names = {r.id: r.name for r in watchlist.rules}
    parts = render_digest(sections, tz, period_heading(heading, now, tz), names)
    day = now.astimezone(tz).date().isoformat()
    return [
        OutgoingMessage(f"digest:{channel.chat}:{day}:{i + 1}", channel.chat, text, to_plain(text), True)
        for i, text in enumerate(parts)
    ]
