"""Parse feed documents with feedparser into Stories. The only module that imports feedparser.

Each entry becomes a Story: a stable id (the guid; else the link; else a hash of title and date), the
canonical URL, title and summary as plain text (HTML stripped, entities decoded, whitespace folded), the
published time in UTC and the outlet's name. A malformed document that still yields entries is used (with
a warning); one that yields none is an error for that feed.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from bot.model import ParseResult, Story
from bot.urls import canonical_url, clean_url, resolve_redirect

MAX_TITLE = 1_000
MAX_SUMMARY = 5_000
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "tr", "td", "h1", "h2", "h3", "h4", "blockquote"}
)
_TRUNCATED_TAG = re.compile(r"<[a-zA-Z/][^>]*$")  # archivers cut descriptions mid-tag
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})


def parse_feed(content: bytes, headers: Mapping[str, str], feed_url: str, feed_name: str = "") -> ParseResult:
    """Parse a fetched document into stories; never raises for a bad document."""
    try:
        parsed = feedparser.parse(content, response_headers=dict(headers), sanitize_html=True)
    except Exception as exc:  # feedparser's contract is bozo, but a parser deep inside can still throw
        return ParseResult((), error=f"parse: feed could not be parsed ({type(exc).__name__}: {exc})")
    channel = parsed.get("feed", {})
    outlet = feed_name or html_to_text(channel.get("title", "")) or urlsplit(feed_url).hostname or feed_url
    stories = []
    for entry in parsed.get("entries", []):
        story = _story(entry, feed_url, outlet)
        if story is not None:
            stories.append(story)
    reason = _bozo_reason(parsed)
    if not stories:
        if _looks_like_html(content):
            links = feed_links(content, feed_url)
            found = (
                f"; it names {len(links)} feed(s), first {links[0]}" if links else ", and it names no feed"
            )
            return ParseResult((), error=f"parse: got a web page, not a feed{found}", feed_links=links)
        return ParseResult((), error=f"parse: no entries{f' ({reason})' if reason else ''}")
    return ParseResult(
        tuple(stories),
        title=outlet,
        warning=f"malformed feed, used anyway: {reason}" if reason else None,
        poll_hint=_poll_hint(channel),
    )


_SY_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


def _poll_hint(channel: Any) -> timedelta | None:
    """How often the publisher says the feed changes: RSS `<ttl>` (minutes) or the syndication module."""
    hints = []
    ttl = str(channel.get("ttl") or "").strip()
    if ttl.isdigit() and 0 < int(ttl) <= 7 * 24 * 60:
        hints.append(timedelta(minutes=int(ttl)))
    period = _SY_PERIODS.get(str(channel.get("sy_updateperiod") or "").strip().lower())
    if period:
        frequency = str(channel.get("sy_updatefrequency") or "1").strip()
        times = int(frequency) if frequency.isdigit() and int(frequency) > 0 else 1
        hints.append(timedelta(seconds=period / times))
    return max(hints) if hints else None


_FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml"}
)


class _FeedLinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.base = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "").strip() for k, v in attrs}
        if tag == "base" and values.get("href") and not self.base:
            self.base = values["href"]
        if tag not in ("link", "a"):
            return
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if (
            "alternate" in rels
            and kind in _FEED_TYPES
            and kind != "application/feed+json"
            and values.get("href")
        ):
            self.links.append(values["href"])


def feed_links(content: bytes, page_url: str) -> tuple[str, ...]:
    """The RSS/Atom feeds a web page announces (`<link rel="alternate" type="application/rss+xml">`)."""
    finder = _FeedLinkFinder()
    try:
        finder.feed(content[:2_000_000].decode("utf-8", errors="replace"))
        finder.close()
    except Exception:  # a page too broken to read names no feed
        return ()
    base = urljoin(page_url, finder.base) if finder.base else page_url
    found: list[str] = []
    for href in finder.links:
        url = urljoin(base, href)
        if url.startswith(("http://", "https://")) and url not in found:
            found.append(url)
    return tuple(found)


def _story(entry: Any, feed_url: str, outlet: str) -> Story | None:
    title = _clip(html_to_text(entry.get("title", "")), MAX_TITLE)
    summary = _clip(html_to_text(entry.get("summary", "") or _content(entry)), MAX_SUMMARY)
    link = _link(entry)
    if not title and not summary:
        return None
    if summary == title:
        summary = ""
    published = _when(entry)
    target = resolve_redirect(link) if link else ""
    source = entry.get("source", {}).get("title") if isinstance(entry.get("source"), dict) else None
    return Story(
        id=_stable_id(entry, link, title, published, feed_url),
        title=title or _clip(summary, 120),
        summary=summary,
        url=clean_url(target or link),
        canonical_url=canonical_url(target or link) if (target or link) else "",
        source=html_to_text(source) if source else outlet,
        published=published,
        feed=feed_url,
    )


def _stable_id(entry: Any, link: str, title: str, published: datetime | None, feed_url: str) -> str:
    guid = str(entry.get("id") or "").strip()
    if guid:
        if "://" in guid or guid.startswith(("urn:", "tag:")):
            return guid[:500]
        return f"{urlsplit(feed_url).netloc or feed_url}#{guid}"[:500]
    if link:
        return canonical_url(link)[:500]
    stamp = published.isoformat() if published else ""
    digest = hashlib.sha1(f"{feed_url}\n{title}\n{stamp}".encode()).hexdigest()[:24]
    return f"sha1:{digest}"


def _link(entry: Any) -> str:
    link = entry.get("link") or ""
    if not link:
        for candidate in entry.get("links", []):
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    link = str(link).strip()
    return link if link.startswith(("http://", "https://")) else ""


def _content(entry: Any) -> str:
    for part in entry.get("content", []) or []:
        value = part.get("value")
        if value:
            return str(value)
    return ""


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)  # plain dict access: FeedParserDict's key aliasing warns and guesses
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _bozo_reason(parsed: Any) -> str:
    if not parsed.get("bozo"):
        return ""
    exc = parsed.get("bozo_exception")
    return str(exc).splitlines()[0][:200] if exc else "malformed document"


def _looks_like_html(content: bytes) -> bool:
    head = content[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skipping:
            self._skipping -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(value: str) -> str:
    """Return the visible text of an HTML fragment, entities decoded and whitespace folded."""
    if not value:
        return ""
    if "<" not in value and "&" not in value:
        return " ".join(value.split())
    extractor = _TextExtractor()
    try:
        extractor.feed(_TRUNCATED_TAG.sub("", value))
        extractor.close()
    except Exception:  # HTMLParser is lenient, but not every malformed fragment is survivable
        return " ".join(value.split())
    return " ".join("".join(extractor.parts).split())


# -- example articles for `newsbot suggest` -------------------------------------------------------------------

_ARTICLE_BLOCKS = _BLOCK_TAGS | {
    "h5",
    "h6",
    "title",
    "section",
    "article",
    "header",
    "figcaption",
    "dd",
    "dt",
}
_ARTICLE_SKIP = _SKIP_TAGS | {"nav", "footer", "aside", "form", "button", "svg", "select", "iframe"}


class _ArticleExtractor(HTMLParser):
    """Visible text of a page, a line per block; the text inside <article> kept apart when there is one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.everything: list[str] = []
        self.article: list[str] = []
        self.headline: list[str] = []
        self._skipping = 0
        self._in_article = 0
        self._in_h1 = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _ARTICLE_SKIP:
            self._skipping += 1
        elif tag == "article":
            self._in_article += 1
        elif tag == "h1":
            self._in_h1 += 1
        if tag in _ARTICLE_BLOCKS:
            self._add("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _ARTICLE_SKIP and self._skipping:
            self._skipping -= 1
        elif tag == "article" and self._in_article:
            self._in_article -= 1
        elif tag == "h1" and self._in_h1:
            self._in_h1 -= 1
        if tag in _ARTICLE_BLOCKS:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._add(data)
            if self._in_h1:
                self.headline.append(data)

    def _add(self, text: str) -> None:
        self.everything.append(text)
        if self._in_article:
            self.article.append(text)


def article_texts(content: bytes, headers: Mapping[str, str], url: str) -> list[str]:
    """Return the plain text of each article in a document: a feed's entries, an HTML page, or plain text."""
    head = content[:1024].lstrip().lower()
    if head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head or b"<rdf" in head:
        parsed = parse_feed(content, headers, url)
        if parsed.stories:
            return [f"{s.title}\n{s.summary}" for s in parsed.stories]
    text = _decode(content, headers)
    if _looks_like_html(content) or "<p" in text[:5000].lower():
        return [_page_text(text)]
    return [text]


def _decode(content: bytes, headers: Mapping[str, str]) -> str:
    charset = re.search(r"charset=([\w-]+)", headers.get("content-type", ""))
    for encoding in (charset.group(1) if charset else "utf-8", "utf-8", "cp1252"):
        try:
            return content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return content.decode("utf-8", errors="replace")


def _page_text(markup: str) -> str:
    extractor = _ArticleExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except Exception:  # HTMLParser is lenient, but not every malformed page is survivable
        return html_to_text(markup)
    body = extractor.article if len("".join(extractor.article).strip()) > 200 else extractor.everything
    lines = [" ".join(line.split()) for line in "".join(body).splitlines()]
    headline = " ".join("".join(extractor.headline).split())
    text = "\n".join(line for line in lines if line)
    return text if not headline or headline in text else f"{headline}\n{text}"
