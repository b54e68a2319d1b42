"""A loopback feed server for polling benchmarks, run in a process of its own.

It serves N feeds at /feed/<i>.xml (see `benchmarks.feeddocs`), pre-rendered at start, plain or gzipped,
with ETag and Last-Modified, and answers 304 to a matching If-None-Match, or, when that header is absent,
If-Modified-Since (RFC 9110 §13.1.3). The server works in cycles, each started through the control
endpoint in one of two modes:
- `steady`: every feed serves its current document, honouring conditional requests (a first poll gets
  200 everywhere, a later one 304 everywhere);
- `mixed`: each feed behaves as its seeded profile says (`plan`): ~80% unchanged, ~12% changed (a new
  edition with new items, published when the cycle starts), ~3% slow (0.5-2 s before answering), ~3%
  failing (500, 503 with Retry-After, 404, a 200 of garbage, or a connection reset), ~2% redirected (301
  to /moved/<i>.xml, or 302 to /temp/<i>.xml, both of which serve the feed).
Control: `POST /_control/cycle?mode=steady|mixed` starts a cycle; `GET /_control/stats` returns the
cycle's responses by kind and the server's CPU seconds; `GET /_control/plan` the profile of each feed.

Start it with `start_server(feeds)` (a spawned process; returns a handle with the URL), or from a shell:
`python -m benchmarks.feedserver --feeds 5000 --port 8800` (for pollers in other processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import selectors
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

from benchmarks.common import ROOT
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
_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


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


# -- HTTP/1.1 over asyncio streams: keep-alive, GET/HEAD/POST, no request bodies beyond Content-Length ----


async def _connection(
    service: FeedService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    service.connections += 1
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            request = lines[0].split(" ")
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = headers.get("content-length", "0")
            if len(request) != 3 or not length.isdigit():
                writer.write(_encode(Reply(400, b"bad request"), False))
                return
            if int(length):
                await reader.readexactly(int(length))
            reply = await service.answer(request[0], request[1], headers)
            if reply is RESET:
                writer.transport.abort()
                return
            keep = headers.get("connection", "").lower() != "close" and request[2] == "HTTP/1.1"
            writer.write(_encode(reply, keep, request[0] == "HEAD"))
            await writer.drain()
            if not keep:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


def _encode(reply: Reply, keep_alive: bool, head_only: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, '')}", "Server: newsbot-benchfeeds"]
    lines += [f"{name}: {value}" for name, value in reply.headers]
    if reply.status != 304:
        lines.append(f"Content-Length: {len(reply.body)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only or reply.status == 304 else head + reply.body


async def serve(service: FeedService, host: str, port: int, until_stdin_closes: bool = False) -> None:
    """Serve until cancelled (or, if asked, until standard input closes: the parent is gone).

    Prints `listening <port>` once bound, which is what `start_server` waits for.
    """
    server = await asyncio.start_server(
        lambda r, w: _connection(service, r, w), host, port, backlog=2048, reuse_address=True
    )
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        if not until_stdin_closes:
            await server.serve_forever()
            return
        parent_gone = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_input() -> None:
            if not os.read(sys.stdin.fileno(), 4096):
                parent_gone.set()

        loop.add_reader(sys.stdin.fileno(), on_input)
        await parent_gone.wait()


class FeedServerProcess:
    """A feed server running in its own process, and a small client for its control endpoint."""

    def __init__(self, process: subprocess.Popen[str], host: str, port: int, feeds: int) -> None:
        self.process, self.host, self.port, self.feeds = process, host, port, feeds

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def feed_url(self, i: int) -> str:
        return f"{self.url}/feed/{i}.xml"

    def start_cycle(self, mode: str) -> dict[str, Any]:
        return self._call("POST", f"/_control/cycle?mode={mode}")  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_control/stats")  # type: ignore[no-any-return]

    def plan(self) -> list[Profile]:
        return [Profile(**p) for p in self._call("GET", "/_control/plan")]

    def stop(self) -> None:
        """Stop the server process (closing its standard input stops it; SIGKILL if it hangs)."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> FeedServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def start_server(
    feeds: int, seed: int = 1, mix: dict[str, float] | None = None, host: str = "127.0.0.1", port: int = 0
) -> FeedServerProcess:
    """Start a feed server in a new process; return once its documents are rendered and it listens."""
    command = [sys.executable, "-m", "benchmarks.feedserver", "--feeds", str(feeds), "--seed", str(seed)]
    command += ["--host", host, "--port", str(port), "--mix", format_mix(mix or MIX)]
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    command.append("--until-stdin-closes")  # so the server never outlives its parent
    process = subprocess.Popen(
        command, cwd=ROOT, env=environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 300
        while True:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                process.kill()
                raise RuntimeError("feedserver: no answer from the server process within 300 s")
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(
                    f"feedserver: the server process ended before listening (exit {process.wait()})"
                )
            if line.startswith("listening "):
                return FeedServerProcess(process, host, int(line.split()[1]), feeds)


def _mix_argument(text: str) -> dict[str, float]:
    try:
        return parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve N benchmark feeds on loopback until interrupted.")
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--mix", type=_mix_argument, default=MIX, help=f"shares of profiles (default {format_mix(MIX)})"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8800, help="0: any free port (printed)")
    parser.add_argument("--until-stdin-closes", action="store_true", help="stop when standard input closes")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    service = FeedService(args.feeds, args.seed, args.mix)
    print(
        f"rendered {args.feeds} feeds in {time.perf_counter() - started:.1f}s; serving "
        f"http://{args.host}:<port>/feed/<0..{args.feeds - 1}>.xml; control: "
        "POST /_control/cycle?mode=steady|mixed, GET /_control/stats, GET /_control/plan",
        file=sys.stderr,
        flush=True,
    )
    try:
        asyncio.run(serve(service, args.host, args.port, args.until_stdin_closes))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
