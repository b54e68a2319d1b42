"""Build and render digests: one entry per cluster, grouped by person or topic.

A cluster is headed by its most representative story (the one whose headline shares most with the
others; the earliest for one or two stories) and names the other outlets that carried it ("also: ...").
A cluster folds one event's coverage, so up to `MAX_RELATED` of its other headlines are listed under the
head ("↳ ..."): those sharing little with the head's and with each other's (word overlap, Jaccard, under
`RELATED_BELOW`). Often a reaction or a follow-up, sometimes the same news in other words.
It is listed once, under the first followed rule (in the channel's order) that its headlines match, or
failing that its summaries; other rules it matched are noted on the line. Telegram messages are HTML
with every piece of feed text escaped and matched terms in bold, split at entry boundaries so no message
exceeds 4,096 characters.
The plain-text rendering carries the same content for the console.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.model import DigestItem, DigestStory, Field

TELEGRAM_LIMIT = 4096
_WORDS = re.compile(r"[^\W_]{3,}")
_COMMON = frozenset("the and for with after over from that this what will says said into about more".split())
MAX_ALSO = 4
MAX_RELATED = 2
MAX_RELATED_TITLE = 160
# A headline sharing less than this (Jaccard of its words) with the head's and the other related ones' says
# something of its own.
RELATED_BELOW = 0.2
MAX_TITLE = 300


@dataclass(frozen=True, slots=True)
class Section:
    rule_id: str
    name: str
    items: tuple[DigestItem, ...]


def build_items(stories: Iterable[DigestStory]) -> list[DigestItem]:
    """Fold stories into one item per cluster, headed by its most representative story, newest first."""
    clusters: dict[str, list[DigestStory]] = {}
    for story in stories:
        clusters.setdefault(story.cluster_id, []).append(story)
    items = []
    for members in clusters.values():
        members.sort(key=lambda s: (s.published, s.id))
        head = _representative(members)
        also = tuple(
            dict.fromkeys(s.source for s in members if s is not head and s.source and s.source != head.source)
        )
        rules = tuple(dict.fromkeys(m.rule for s in members for m in s.matches))
        in_titles = tuple(dict.fromkeys(m.rule for s in members for m in s.matches if m.field is Field.TITLE))
        items.append(DigestItem(head, also, rules, in_titles, _related(head, members)))
    items.sort(key=lambda i: (i.head.published, i.head.id), reverse=True)
    return items


def _related(head: DigestStory, members: list[DigestStory]) -> tuple[DigestStory, ...]:
    """The members whose headlines say something the head's does not (earliest first, each unlike the
    others shown)."""
    shown = [_title_words(head)]
    if not shown[0]:  # a headline of no words: nothing to tell the others apart from
        return ()
    related: list[DigestStory] = []
    for story in members:
        if len(related) >= MAX_RELATED:
            break
        words = _title_words(story)
        if story is not head and words and all(_jaccard(words, w) < RELATED_BELOW for w in shown):
            related.append(story)
            shown.append(words)
    return tuple(related)


def _title_words(story: DigestStory) -> set[str]:
    return set(_WORDS.findall(story.title.casefold())) - _COMMON


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / (len(a | b) or 1)


def _representative(members: list[DigestStory]) -> DigestStory:
    """The story whose headline shares most with the others' (the earliest among equals).

    Coverage that starts with a preview ("Court to rule today") and runs on to the ruling is headed by
    what most outlets reported, not by the first item of the day.
    """
    if len(members) < 3:
        return members[0]
    words = [_title_words(m) for m in members]

    def centrality(i: int) -> float:
        return sum(_jaccard(words[i], w) for j, w in enumerate(words) if j != i)

    return members[max(range(len(members)), key=lambda i: (centrality(i), -i))]


def build_sections(items: Iterable[DigestItem], rules: Sequence[tuple[str, str]]) -> list[Section]:
    """Group items under a followed rule (id, name) each matched, preferring rules its headline names.

    Items matching no followed rule are left out.
    """
    order = {rule_id: i for i, (rule_id, _) in enumerate(rules)}
    grouped: dict[str, list[DigestItem]] = {}
    for item in items:
        followed = sorted(
            (r for r in item.rules if r in order), key=lambda r: (r not in item.title_rules, order[r])
        )
        if followed:
            grouped.setdefault(followed[0], []).append(item)
    return [Section(rid, name, tuple(grouped[rid])) for rid, name in rules if rid in grouped]


def render_digest(
    sections: Sequence[Section], tz: ZoneInfo, heading: str, names: dict[str, str] | None = None
) -> list[str]:
    """Render a digest as Telegram HTML messages of at most 4,096 characters; no sections, no messages."""
    if not sections:
        return []
    count = sum(len(s.items) for s in sections)
    head = f"<b>{html.escape(heading)}</b>\n{count} {'story' if count == 1 else 'stories'}"
    blocks: list[tuple[str, str]] = []
    for section in sections:
        title = f"\n<b>{html.escape(section.name)}</b> ({len(section.items)})"
        for item in section.items:
            blocks.append((title, _html_line(item, tz, section.rule_id, names or {})))
    return _pack(head, blocks)


def render_digest_text(
    sections: Sequence[Section], tz: ZoneInfo, heading: str, names: dict[str, str] | None = None
) -> str:
    """Render a digest as plain text for the console."""
    if not sections:
        return ""
    count = sum(len(s.items) for s in sections)
    lines = [heading, "=" * len(heading), f"{count} {'story' if count == 1 else 'stories'}"]
    for section in sections:
        lines += ["", f"{section.name} ({len(section.items)})"]
        for item in section.items:
            story = item.head
            lines.append(f"  • {_clip(story.title)}")
            lines.append(f"    {_meta(item, tz, section.rule_id, names or {})}")
            if story.url:
                lines.append(f"    {story.url}")
            for other in item.related:
                lines.append(
                    f"    ↳ {_clip(other.title, MAX_RELATED_TITLE)} ({other.source or 'unknown outlet'})"
                )
    return "\n".join(lines) + "\n"


def render_alert(
    item: DigestItem, rule_id: str, rule_name: str, tz: ZoneInfo, names: dict[str, str] | None = None
) -> str:
    """Render an instant alert for one cluster as Telegram HTML."""
    return f"🔔 <b>{html.escape(rule_name)}</b>\n{_html_line(item, tz, rule_id, names or {})}"


def to_plain(html_text: str) -> str:
    """Strip the few tags the renderer emits, for a resend as plain text."""
    return html.unescape(re.sub(r"</?(?:b|i|a)(?: [^>]*)?>", "", html_text))


def _html_line(item: DigestItem, tz: ZoneInfo, section_rule: str, names: dict[str, str]) -> str:
    story = item.head
    title = _highlight(story)
    line = f"• {_link(story, title)}\n  <i>{html.escape(_meta(item, tz, section_rule, names))}</i>"
    related = "".join(
        f"\n  ↳ {_link(other, html.escape(_clip(other.title, MAX_RELATED_TITLE)))} · "
        f"<i>{html.escape(other.source or 'unknown outlet')}</i>"
        for other in item.related
    )
    # An entry must fit in one message (`_pack` cuts a longer one): the other headlines go first.
    return line + related if len(line) + len(related) <= TELEGRAM_LIMIT - 200 else line


def _link(story: DigestStory, text: str) -> str:
    return (
        f'<a href="{html.escape(story.url, quote=True)}">{text}</a>' if story.url.startswith("http") else text
    )


def _meta(item: DigestItem, tz: ZoneInfo, section_rule: str, names: dict[str, str]) -> str:
    story = item.head
    local = story.published.astimezone(tz)
    parts = [story.source or "unknown outlet", local.strftime("%d %b %H:%M")]
    if item.also:
        shown = ", ".join(item.also[:MAX_ALSO])
        extra = len(item.also) - MAX_ALSO
        parts.append(f"also: {shown}" + (f" (+{extra})" if extra > 0 else ""))
    others = [names.get(r, r) for r in item.rules if r != section_rule and r in names]
    if others:
        more = f" (+{len(others) - 3} more)" if len(others) > 3 else ""
        parts.append("also about: " + "; ".join(others[:3]) + more)
    return " · ".join(parts)


def _highlight(story: DigestStory) -> str:
    """Escape the title, with the words that matched in bold."""
    title = story.title
    spans = sorted(
        {
            (m.start, m.end)
            for m in story.matches
            if m.field is Field.TITLE and title[m.start : m.end] == m.text
        }
    )
    out, pos = [], 0
    for start, end in spans:
        if start < pos or end > MAX_TITLE:
            continue
        out += [html.escape(title[pos:start]), "<b>", html.escape(title[start:end]), "</b>"]
        pos = end
    out.append(html.escape(title[pos:MAX_TITLE]) + ("…" if len(title) > MAX_TITLE else ""))
    return " ".join("".join(out).split())


def _clip(text: str, limit: int = MAX_TITLE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pack(head: str, blocks: list[tuple[str, str]]) -> list[str]:
    messages: list[str] = []
    current = head
    current_section = ""
    for section, line in blocks:
        piece = (f"{section}\n" if section != current_section else "") + line
        if len(current) + 1 + len(piece) > TELEGRAM_LIMIT:
            messages.append(current)
            current = f"{section} (cont.)\n{line}".lstrip("\n")
        else:
            current = f"{current}\n{piece}"
        current_section = section
        if len(current) > TELEGRAM_LIMIT:  # a single entry longer than a message: cut it, keep the rest
            messages.append(current[: TELEGRAM_LIMIT - 1] + "…")
            current = ""
    if current:
        messages.append(current)
    return messages


def period_heading(title: str, now: datetime, tz: ZoneInfo) -> str:
    return f"{title} · {now.astimezone(tz).strftime('%a %d %b %Y')}"
