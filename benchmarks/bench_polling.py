"""Polling benchmark: full poll cycles of thousands of loopback feeds through fetch, parse, match and storage.

A feed server in its own process (`benchmarks.feedserver`) serves the feeds. Cycle 1 is a cold start (no
validators stored: every feed answers 200); cycle 2 is the mixed cycle (~80% 304, ~12% new items, slow
feeds, failures, redirects); cycle 3 finds every feed unchanged (all 304). Each cycle prints its wall
time, feeds by outcome, the server's responses, fetch/parse/storage seconds summed over feeds (they
overlap in wall time: feeds are polled concurrently), stories stored, and the process's peak memory.
The naive way (sequential, unconditional GETs) is timed in the same run on the first feeds of the mixed
cycle and extrapolated. Run: .venv/bin/python -m benchmarks.bench_polling [--feeds 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.common import ROOT
from benchmarks.feedserver import FeedServerProcess, start_server
from bot import app as newsbot
from bot.fetch import Fetcher
from bot.logs import setup_logging
from bot.model import OutgoingMessage
from bot.parse import parse_feed
from bot.pipeline import PollReport
from bot.rulefiles import load_watchlist
from bot.senders import SendOutcome
from bot.settings import Settings
from bot.watchlist import FeedRule, Watchlist

TARGETS = {"mixed": 60.0, "all 304": 20.0}  # seconds for 5,000 feeds
PEAK_TARGET_MB = 300.0


class DiscardSender:
    """Accepts every message and sends nothing: the benchmark measures polling, not delivery."""

    name = "discard"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        return SendOutcome(ok=True)


@dataclass(frozen=True, slots=True)
class CycleResult:
    name: str
    feeds: int
    wall: float
    outcomes: dict[str, int]
    responses: dict[str, int]
    server_cpu: float
    fetch_seconds: float
    parse_seconds: float
    store_seconds: float
    stories: int
    cpu: float  # seconds of CPU the benchmark process used (all threads)
    peak_mb: float


@dataclass(frozen=True, slots=True)
class Capacity:
    kind: str
    requests_per_second: float
    server_cpu_share: float  # server CPU seconds per wall second during the run


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def benchmark_settings(db: str, concurrency: int, per_host: int) -> Settings:
    """Default settings but the database and the concurrency.

    Every benchmark feed is on one host (127.0.0.1), so the polite per-host limit (4) would make the
    concurrency 4; the benchmark lifts it, as an operator would (NEWSBOT_PER_HOST) for a feed host of
    their own that can take it.
    """
    return Settings(db=db, concurrency=concurrency, per_host=per_host)


def benchmark_watchlist(server: FeedServerProcess) -> Watchlist:
    """The default rules' people, topics and channels, following the server's feeds."""
    rules = load_watchlist((ROOT / "rules",))
    feeds = tuple(FeedRule(f"Feed {i}", server.feed_url(i)) for i in range(server.feeds))
    return replace(rules, feeds=feeds)


async def poll_cycle(
    app: newsbot.App, server: FeedServerProcess, name: str, mode: str, progress: Progress | None
) -> CycleResult:
    """Start a server cycle in `mode`, poll every feed once, and measure it."""
    server.start_cycle(mode)
    outcomes: Counter[str] = Counter()
    task = progress.add_task(name, total=len(app.watchlist.feeds), outcomes="") if progress else None

    def on_report(report: PollReport) -> None:
        outcomes[report.outcome] += 1
        if progress is not None and task is not None:
            shown = " ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
            progress.update(task, advance=1, outcomes=shown)

    started, cpu = time.perf_counter(), time.process_time()
    reports = await newsbot.poll_all(app, app.watchlist.feeds, on_report)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = server.stats()
    return CycleResult(
        name,
        len(reports),
        wall,
        dict(outcomes),
        stats["responses"] | ({"delayed": stats["delayed"]} if stats["delayed"] else {}),
        stats["cpu_seconds"],
        sum(r.elapsed for r in reports),
        sum(r.parse_seconds for r in reports),
        sum(r.store_seconds for r in reports),
        sum(r.new for r in reports),
        cpu,
        peak_rss_mb(),
    )


async def naive_cycle(app: newsbot.App, count: int) -> float:
    """The naive poller on the first `count` feeds: one at a time, unconditional GET, parse, store."""
    started = time.perf_counter()
    async with Fetcher(app.limits) as fetcher:
        for feed in app.watchlist.feeds[:count]:
            result = await fetcher.fetch(feed.url)
            if result.ok and result.content:
                parsed = parse_feed(result.content, result.headers, feed.url, feed.name)
                await app.ingestor.ingest(parsed.stories, app.clock())
    return time.perf_counter() - started


async def server_capacity(server: FeedServerProcess, seconds: float, connections: int = 16) -> list[Capacity]:
    """Requests per second the server answers alone: 304s, then full gzipped documents.

    The client is a bare asyncio HTTP/1.1 loop on keep-alive connections, far cheaper per request than
    httpx, so that the server, not the client, is what gets measured; the server's own CPU seconds per
    wall second show how busy that kept it.
    """
    server.start_cycle("steady")
    feeds = min(server.feeds, 200)
    etags = await asyncio.gather(*(_etag(server, i) for i in range(feeds)))
    results = []
    for kind, conditional in (("304 Not Modified", True), ("200 full document (gzip)", False)):
        deadline = time.perf_counter() + seconds
        cpu, started = server.stats()["cpu_seconds"], time.perf_counter()
        counts = await asyncio.gather(
            *(_hammer(server, k, feeds, etags if conditional else None, deadline) for k in range(connections))
        )
        wall = time.perf_counter() - started
        results.append(Capacity(kind, sum(counts) / wall, (server.stats()["cpu_seconds"] - cpu) / wall))
    return results


async def _etag(server: FeedServerProcess, feed: int) -> str:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        headers, _ = await _exchange(reader, writer, f"/feed/{feed}.xml", {})
        return headers["etag"]
    finally:
        writer.close()


async def _hammer(
    server: FeedServerProcess, offset: int, feeds: int, etags: list[str] | None, deadline: float
) -> int:
    """Request feeds on one connection until the deadline; return how many answers came back."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    done = 0
    try:
        while time.perf_counter() < deadline:
            feed = (offset + done * 7) % feeds
            conditional = {"If-None-Match": etags[feed]} if etags else {}
            await _exchange(reader, writer, f"/feed/{feed}.xml", {"Accept-Encoding": "gzip"} | conditional)
            done += 1
    finally:
        writer.close()
    return done


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, headers: dict[str, str]
) -> tuple[dict[str, str], bytes]:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    body = await reader.readexactly(int(fields.get("content-length", "0")))
    return fields, body


@contextmanager
def progress_display(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    columns = [TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, TextColumn("{task.fields[outcomes]}"), refresh_per_second=4) as progress:
        yield progress


async def run_benchmark(
    feeds: int,
    concurrency: int,
    baseline_feeds: int,
    capacity_seconds: float,
    progress: bool,
    per_host: int | None = None,
    say: Callable[[str], Any] = print,
) -> tuple[list[CycleResult], float]:
    """Run the three cycles and the naive baseline; return the cycles and the baseline's extrapolated time."""
    started = time.perf_counter()
    with start_server(feeds) as server, tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        say(f"feed server: {feeds:,} feeds rendered and listening in {time.perf_counter() - started:.1f}s")
        if capacity_seconds > 0:
            for cap in await server_capacity(server, capacity_seconds):
                say(
                    f"  server alone: {cap.requests_per_second:,.0f} req/s of {cap.kind} "
                    f"(server CPU {cap.server_cpu_share:.0%} busy, client on the other core)"
                )
        settings = benchmark_settings(f"sqlite:///{tmp}/bench.db", concurrency, per_host or concurrency)
        app = newsbot.build(settings, benchmark_watchlist(server), DiscardSender())
        cycles = []
        try:
            with progress_display(progress) as display:
                cycles.append(await poll_cycle(app, server, "cold", "steady", display))
                cycles.append(await poll_cycle(app, server, "mixed", "mixed", display))
            naive = await naive_cycle(app, min(baseline_feeds, feeds)) * feeds / min(baseline_feeds, feeds)
            with progress_display(progress) as display:
                cycles.append(await poll_cycle(app, server, "all 304", "steady", display))
        finally:
            app.close()
    return cycles, naive


def report(cycles: list[CycleResult], naive: float, baseline_feeds: int, concurrency: int) -> list[str]:
    lines = [
        f"{cycles[0].feeds:,} feeds of 30 items, loopback server in its own process; "
        f"concurrency {concurrency}; SQLite",
        "fetch/parse/store: seconds summed over feeds (feeds are polled concurrently, so these overlap)",
        f"{'cycle':>8} {'wall s':>7} {'cpu s':>6} {'feeds/s':>8} {'fetch s':>8} {'parse s':>8} {'store s':>8} "
        f"{'stories':>8} {'peak MB':>8}  outcomes | server responses",
    ]
    for c in cycles:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(c.outcomes.items()))
        served = ", ".join(f"{k} {v}" for k, v in sorted(c.responses.items()))
        lines.append(
            f"{c.name:>8} {c.wall:7.1f} {c.cpu:6.1f} {c.feeds / c.wall:8.0f} {c.fetch_seconds:8.1f} {c.parse_seconds:8.1f} "
            f"{c.store_seconds:8.1f} {c.stories:8,} {c.peak_mb:8.0f}  {outcomes} | {served} "
            f"(server CPU {c.server_cpu:.1f}s)"
        )
    mixed = next(c for c in cycles if c.name == "mixed")
    lines.append(
        f"naive poller (sequential, unconditional GET), first {baseline_feeds} feeds of the mixed cycle, "
        f"extrapolated: {naive:.0f}s; newsbot's mixed cycle is {naive / mixed.wall:.1f}x faster"
    )
    scale = cycles[0].feeds / 5000
    verdicts = [
        f"{c.name} {c.wall:.1f}s < {TARGETS[c.name] * scale:.0f}s: {'yes' if c.wall < TARGETS[c.name] * scale else 'NO'}"
        for c in cycles
        if c.name in TARGETS
    ]
    peak = max(c.peak_mb for c in cycles)
    verdicts.append(
        f"peak {peak:.0f} MB < {PEAK_TARGET_MB:.0f} MB: {'yes' if peak < PEAK_TARGET_MB else 'NO'}"
    )
    lines.append("targets: " + "; ".join(verdicts))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=Settings().concurrency)
    parser.add_argument(
        "--per-host", type=int, help="requests to the loopback host at once (default: --concurrency)"
    )
    parser.add_argument("--baseline-feeds", type=int, default=200)
    parser.add_argument("--capacity-seconds", type=float, default=3.0, help="0 skips the server-alone run")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    setup_logging("ERROR")  # as `newsbot once`: a failing feed is an outcome here, not news
    cycles, naive = asyncio.run(
        run_benchmark(
            args.feeds,
            args.concurrency,
            args.baseline_feeds,
            args.capacity_seconds,
            not args.no_progress,
            args.per_host,
        )
    )
    print("\n".join(report(cycles, naive, min(args.baseline_feeds, args.feeds), args.concurrency)))


if __name__ == "__main__":
    main()
