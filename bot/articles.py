"""Read example articles (files, URLs, pages, feeds, pasted text) and suggest rules from them.

Files and URLs go through the feed fetcher, with its timeouts and size cap; documents become plain text in
`parse.article_texts`; the suggestion itself is `bot.suggest`, weighed with wordfreq's frequencies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.fetch import Fetcher, FetchLimits
from bot.lexicon import word_zipf
from bot.parse import article_texts
from bot.suggest import Draft, suggest

URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class ReadResult:
    source: str
    texts: tuple[str, ...] = ()
    error: str | None = None


async def read_sources(sources: Sequence[str], limits: FetchLimits | None = None) -> list[ReadResult]:
    """Read each file or URL into article texts; a failure is reported per source, never raised."""
    results = []
    async with Fetcher(limits or FetchLimits(max_bytes=5_000_000)) as fetcher:
        for source in sources:
            fetched = await fetcher.fetch(source)
            if fetched.error is not None:
                results.append(ReadResult(source, error=fetched.error.removeprefix("fetch: ")))
                continue
            texts = tuple(t for t in article_texts(fetched.content, fetched.headers, source) if t.strip())
            if not texts:
                results.append(ReadResult(source, error="no text found"))
            else:
                results.append(ReadResult(source, texts))
    return results


def suggest_rules(texts: Sequence[str]) -> Draft:
    """Suggest a draft watchlist from article texts."""
    return suggest(texts, word_zipf)


async def suggest_from_message(text: str, limits: FetchLimits | None = None) -> tuple[Draft, str | None]:
    """Suggest from a chat message: the page its first link points to, or else the text itself."""
    link = URL.search(text)
    if link is not None:
        [result] = await read_sources([link.group().rstrip(".,);")], limits)
        if result.error is not None:
            return suggest_rules([]), f"could not read {link.group()}: {result.error}"
        return suggest_rules(result.texts), None
    return suggest_rules([text]), None
