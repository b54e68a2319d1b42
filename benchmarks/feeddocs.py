"""RSS 2.0 documents for the polling benchmarks: many feeds of realistic items made from real news text.

Feed i is section `i % 8` of outlet `i // 8`. Each of its items is, by a seeded draw per item, one of:
- its own story (a headline joined from halves of two real headlines, a summary of real copy);
- one of its outlet's top stories, carried with the same guid and link by each of the outlet's sections;
- wire copy: an agency story carried by several outlets, each under its own link and guid.
Items are numbered along a feed's timeline; edition e of a feed lists the newest `items` of them, and each
edition after the first adds `new_per_edition` new ones. Everything is a pure function of the seed, the
start time and the editions' times, so a feed's document is the same whenever it is rendered.
"""

from __future__ import annotations

import gzip
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from benchmarks.common import ROOT, real_stories

SECTIONS = ("news", "politics", "world", "business", "uk", "health", "science", "sport")
MASTHEADS = ("Herald", "Times", "Post", "Gazette", "Chronicle", "Courier", "Echo", "Observer")
TOP_STORY_SHARE = 0.15
WIRE_SHARE = 0.10
WIRE_CARRIERS = 5  # outlets carrying one wire story, on average
# Feeds publish at different rates: the items of a feed's first edition are spaced by a per-feed interval,
# log-uniform between 10 minutes (a busy news section) and a day (a quiet blog), so 30 items span from
# 5 hours to a month; about 19 of a feed's 30 items are then from the last 48 hours (the dedup window).
SPACING = (timedelta(minutes=10), timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Item:
    guid: str
    permalink: bool
    link: str
    title: str
    summary: str
    published: datetime
    category: str


@dataclass(frozen=True, slots=True)
class Document:
    """A rendered feed document with its validators (RFC 9110 §8.8)."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str
    modified: datetime


class Newsroom:
    """Makes the items and documents of `feeds` feeds; `advance` starts a new edition."""

    def __init__(
        self,
        feeds: int,
        seed: int = 1,
        start: datetime | None = None,
        items: int = 30,
        new_per_edition: int = 3,
    ) -> None:
        self.feeds, self.seed, self.items, self.new_per_edition = feeds, seed, items, new_per_edition
        start = (start or datetime.now(UTC)).replace(microsecond=0)
        self.editions = [start]
        stories = real_stories()
        self._titles = [s.title.split() for s in stories if len(s.title.split()) >= 6]
        self._words = " ".join(s.summary for s in stories).split()
        places = [
            line.split("\t")[1]
            for line in (ROOT / "benchmarks" / "data" / "terms.tsv").read_text().splitlines()
            if line.startswith("LOC\t")
        ]
        self._places = places
        self._wire_per_slot = max(1, round(feeds * WIRE_SHARE / WIRE_CARRIERS))

    def advance(self, when: datetime | None = None) -> int:
        """Start a new edition (published at `when`, default now); return its number."""
        when = (when or datetime.now(UTC)).replace(microsecond=0)
        self.editions.append(max(when, self.editions[-1] + timedelta(seconds=1)))
        return len(self.editions) - 1

    def outlet(self, feed: int) -> tuple[str, str]:
        """(name, host) of a feed's outlet."""
        o = feed // len(SECTIONS)
        place = self._places[o % len(self._places)]
        masthead = MASTHEADS[(o // len(self._places) + o) % len(MASTHEADS)]
        name = f"The {place} {masthead}"
        slug = "".join(c for c in f"{place}{masthead}".lower() if c.isalnum())
        return name, f"www.{slug}{o // len(self._places) or ''}.example"

    def item(self, feed: int, j: int) -> Item:
        """Item `j` of a feed's timeline (0 is the oldest of the first edition)."""
        rng = random.Random(f"{self.seed}/item/{feed}/{j}")
        o, section = divmod(feed, len(SECTIONS))
        name, host = self.outlet(feed)
        guid_style = o % 3  # outlets differ: permalink guids, tag: guids, or bare numbers
        draw = rng.random()
        # Shared stories are keyed by the slot, so a feed never carries one twice.
        if draw < TOP_STORY_SHARE:
            title, summary = self._story(random.Random(f"{self.seed}/top/{o}/{j}"))
            key, category = f"top-{j}", "top stories"
        elif draw < TOP_STORY_SHARE + WIRE_SHARE:
            w = f"{j}-{rng.randrange(self._wire_per_slot)}"
            title, summary = self._story(random.Random(f"{self.seed}/wire/{w}"))
            key, category = f"wire-{w}", "wire"
        else:
            title, summary = self._story(rng)
            key, category = f"{SECTIONS[section]}-{feed}-{j}", SECTIONS[section]
        number = int(hashlib.blake2s(f"{o}/{key}".encode(), digest_size=6).hexdigest(), 16) % 10**8
        link = f"https://{host}/{category.replace(' ', '-')}/{number}"
        if guid_style == 0:
            guid, permalink = link, True
        elif guid_style == 1:
            guid, permalink = f"tag:{host},2024:{number}", False
            link += "?at_medium=RSS&at_campaign=rss"
        else:
            guid, permalink = str(number), False
        return Item(guid, permalink, link, title, summary, self.published(feed, j), category)

    def spacing(self, feed: int) -> timedelta:
        """The interval between a feed's items in its first edition."""
        low, high = (s.total_seconds() for s in SPACING)
        draw = random.Random(f"{self.seed}/spacing/{feed}").random()
        return timedelta(seconds=round(low * (high / low) ** draw))

    def published(self, feed: int, j: int) -> datetime:
        """When item `j` of a timeline appeared: within the first edition, or with the edition that added it."""
        if j < self.items:
            return self.editions[0] - (self.items - j) * self.spacing(feed)
        edition = (j - self.items) // self.new_per_edition + 1
        newest = self.items + edition * self.new_per_edition - 1
        return self.editions[edition] - (newest - j) * timedelta(minutes=2)

    def document(self, feed: int, edition: int = 0) -> Document:
        """The RSS 2.0 document of a feed at an edition, newest item first."""
        newest = self.items + edition * self.new_per_edition
        items = [self.item(feed, j) for j in range(newest - 1, newest - 1 - self.items, -1)]
        name, host = self.outlet(feed)
        section = SECTIONS[feed % len(SECTIONS)]
        modified = items[0].published
        cdata = feed % 2 == 0  # half the feeds put HTML in CDATA, the others escape it
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
            f"<title>{escape(name)} - {section.title()}</title>\n"
            f"<link>https://{host}/{section}</link>\n"
            f"<description>{escape(name)}: {section} news</description>\n"
            f'<atom:link href="https://{host}/{section}/rss.xml" rel="self" type="application/rss+xml"/>\n'
            f"<language>en-gb</language>\n<lastBuildDate>{_http_date(modified)}</lastBuildDate>\n"
            "<ttl>15</ttl>\n"
        ]
        for item in items:
            html = f"<p>{escape(item.summary)}</p>"
            description = f"<![CDATA[{html}]]>" if cdata else escape(html)
            permalink = "true" if item.permalink else "false"
            parts.append(
                f"<item>\n<title>{escape(item.title)}</title>\n<link>{escape(item.link)}</link>\n"
                f"<description>{description}</description>\n"
                f'<guid isPermaLink="{permalink}">{escape(item.guid)}</guid>\n'
                f"<pubDate>{_http_date(item.published)}</pubDate>\n"
                f"<category>{escape(item.category)}</category>\n</item>\n"
            )
        parts.append("</channel>\n</rss>\n")
        body = "".join(parts).encode()
        etag = '"' + hashlib.blake2s(body, digest_size=10).hexdigest() + '"'
        return Document(body, gzip.compress(body, 6, mtime=0), etag, _http_date(modified), modified)

    def _story(self, rng: random.Random) -> tuple[str, str]:
        first, second = rng.choice(self._titles), rng.choice(self._titles)
        title = " ".join(first[: len(first) // 2] + second[len(second) // 2 :])
        length = rng.randint(30, 60)
        start = rng.randrange(len(self._words) - length)
        return title, " ".join(self._words[start : start + length])


def _http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)
