"""What the benchmark feed server answers: feeds by their seeded profile and the cycle's mode, and control.

Profiles (`plan`): in mixed cycles ~80% of feeds are unchanged, ~12% publish a new edition each cycle, ~3%
answer after 0.5-2 s, ~3% fail (500, 503 with Retry-After, 404, a 200 of garbage, a connection reset) and
~2% redirect (301 to /moved/<i>.xml, 302 to /temp/<i>.xml). In steady cycles every feed simply serves its
current document. Conditional requests follow RFC 9110 §13.1.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

from benchmarks.feeddocs import Document, Newsroom

MIX = {"unchanged": 0.80, "changing": 0.12, "slow": 0.03, "error": 0.03, "redirect": 0.02}
FAILURES = ("500", "503", "404", "garbage", "reset")
REDIRECTS = ("301", "302")
RETRY_AFTER = "120"
MODES = ("steady", "mixed")


def parse_mix(text: str) -> dict[str, float]:
    """Read `kind=share,...` (kinds of MIX; the shares are normalised to their sum)."""
    mix = {}
    for part in text.split(","):
        kind, _, share = part.partition("=")
        if kind.strip() not in MIX:
            raise ValueError(f"unknown feed kind {kind.strip()!r}; expected {', '.join(MIX)}")
        mix[kind.strip()] = float(share)
    if sum(mix.values()) <= 0:
        raise ValueError("the shares of the mix add up to nothing")
    return mix


def format_mix(mix: dict[str, float]) -> str:
    return ",".join(f"{kind}={share:g}" for kind, share in mix.items())


@dataclass(frozen=True, slots=True)
class Profile:
    kind: str  # a key of MIX
    detail: str = ""  # the failure or redirect it answers with
    delay: float = 0.0  # seconds, for slow feeds


def plan(feeds: int, seed: int = 1, mix: dict[str, float] | None = None) -> list[Profile]:
    """Each feed's behaviour in mixed cycles: the shares of `mix` (largest remainder), shuffled by seed."""
    mix = mix or MIX
    exact = {kind: feeds * share / sum(mix.values()) for kind, share in mix.items()}
    counts = {kind: int(value) for kind, value in exact.items()}
    for kind in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[
        : feeds - sum(counts.values())
    ]:
        counts[kind] += 1
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    rng = random.Random(seed)
    rng.shuffle(kinds)
    seen: Counter[str] = Counter()
    profiles = []
    for kind in kinds:
        if kind == "error":
            profiles.append(Profile(kind, FAILURES[seen[kind] % len(FAILURES)]))
        elif kind == "redirect":
            profiles.append(Profile(kind, REDIRECTS[seen[kind] % len(REDIRECTS)]))
        elif kind == "slow":
            profiles.append(Profile(kind, delay=round(rng.uniform(0.5, 2.0), 2)))
        else:
            profiles.append(Profile(kind))
        seen[kind] += 1
    return profiles


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    kind: str = ""  # how it is counted in the stats (default: the status)


RESET = Reply(0, kind="reset")


class FeedService:
    """What the server answers: feed documents by profile and mode, and the control endpoint."""

    def __init__(
        self,
        feeds: int,
        seed: int = 1,
        mix: dict[str, float] | None = None,
        items: int = 30,
        new_per_cycle: int = 3,
    ) -> None:
        self.newsroom = Newsroom(feeds, seed, items=items, new_per_edition=new_per_cycle)
        self.profiles = plan(feeds, seed, mix)
        self.editions = [0] * feeds
        self.documents = [self.newsroom.document(i) for i in range(feeds)]
        self.garbage = random.Random(seed).randbytes(3000)
        self.cycle, self.mode = 0, "steady"
        self.counts: Counter[str] = Counter()
        self.delayed = 0
        self.connections = 0
        self._cpu = time.process_time()

    def start_cycle(self, mode: str) -> dict[str, Any]:
        """Begin a cycle; in mixed mode the changing feeds publish a new edition."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        self.cycle, self.mode = self.cycle + 1, mode
        if mode == "mixed":
            edition = self.newsroom.advance()
            for i, profile in enumerate(self.profiles):
                if profile.kind == "changing":
                    self.editions[i] = edition
                    self.documents[i] = self.newsroom.document(i, edition)
        self.counts.clear()
        self.delayed = 0
        self.connections = 0
        self._cpu = time.process_time()
        return {"cycle": self.cycle, "mode": mode}

    def stats(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "mode": self.mode,
            "responses": dict(self.counts),
            "requests": sum(self.counts.values()),
            "delayed": self.delayed,
            "connections": self.connections,
            "cpu_seconds": round(time.process_time() - self._cpu, 3),
        }

    async def answer(self, method: str, target: str, headers: dict[str, str]) -> Reply:
        path, _, query = target.partition("?")
        parts = path.strip("/").split("/")
        if parts[0] == "_control":
            return self._control(method, parts[1:], query)
        if len(parts) != 2 or not parts[1].endswith(".xml") or not parts[1][:-4].isdigit():
            return self._count(Reply(404, b"not found"))
        route, feed = parts[0], int(parts[1][:-4])
        if feed >= len(self.documents) or route not in ("feed", "moved", "temp"):
            return self._count(Reply(404, b"not found"))
        profile = self.profiles[feed]
        if route != "feed" or self.mode == "steady" or profile.kind in ("unchanged", "changing"):
            return self._count(self._document(feed, headers))
        if profile.kind == "slow":
            await asyncio.sleep(profile.delay)
            self.delayed += 1
            return self._count(self._document(feed, headers))
        if profile.kind == "redirect":
            location = f"/{'moved' if profile.detail == '301' else 'temp'}/{feed}.xml"
            return self._count(Reply(int(profile.detail), b"", (("Location", location),)))
        return self._count(self._failure(profile.detail))

    def _document(self, feed: int, headers: dict[str, str]) -> Reply:
        doc = self.documents[feed]
        validators = (
            ("ETag", doc.etag),
            ("Last-Modified", doc.last_modified),
            ("Cache-Control", "max-age=60"),
        )
        if _not_modified(doc, headers):
            return Reply(304, b"", validators)
        gzipped = "gzip" in headers.get("accept-encoding", "")
        body = doc.gzipped if gzipped else doc.body
        typed = (("Content-Type", "application/rss+xml; charset=utf-8"), ("Vary", "Accept-Encoding"))
        encoding = (("Content-Encoding", "gzip"),) if gzipped else ()
        return Reply(200, body, validators + typed + encoding)

    def _failure(self, detail: str) -> Reply:
        if detail == "reset":
            return RESET
        if detail == "garbage":
            return Reply(200, self.garbage, (("Content-Type", "application/rss+xml"),), kind="garbage")
        if detail == "503":
            return Reply(503, b"busy", (("Retry-After", RETRY_AFTER),))
        return Reply(int(detail), b"error")

    def _control(self, method: str, parts: list[str], query: str) -> Reply:
        try:
            if parts == ["cycle"] and method == "POST":
                result: Any = self.start_cycle(parse_qs(query).get("mode", ["mixed"])[0])
            elif parts == ["stats"]:
                result = self.stats()
            elif parts == ["plan"]:
                result = [asdict(p) for p in self.profiles]
            else:
                return Reply(404, b"unknown control endpoint")
        except ValueError as exc:
            return Reply(400, str(exc).encode())
        return Reply(200, json.dumps(result).encode(), (("Content-Type", "application/json"),))

    def _count(self, reply: Reply) -> Reply:
        self.counts[reply.kind or str(reply.status)] += 1
        return reply


def _not_modified(doc: Document, headers: dict[str, str]) -> bool:
    # RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    if "if-none-match" in headers:
        tags = [t.strip().removeprefix("W/") for t in headers["if-none-match"].split(",")]
        return "*" in tags or doc.etag in tags
    if "if-modified-since" in headers:
        try:
            since = parsedate_to_datetime(headers["if-modified-since"])
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and doc.modified <= since
    return False
