"""The fetcher against a real loopback HTTP server: conditional GET, redirects, size cap, failures."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.fetch import USER_AGENT, Fetcher, FetchLimits
from bot.model import FetchResult
from tests.helpers.feedserver import FeedServer


def fetch(
    url: str, etag: str | None = None, last_modified: str | None = None, limits: FetchLimits | None = None
) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(limits) as fetcher:
            return await fetcher.fetch(url, etag, last_modified)

    return asyncio.run(go())


def test_fetch_sends_user_agent_and_returns_validators(feed_server: FeedServer) -> None:
    result = fetch(f"{feed_server.url}/feeds/bbc.xml")
    assert result.ok and result.status == 200 and result.content.startswith(b"<?xml")
    assert result.etag and result.last_modified == "Wed, 15 Nov 2023 12:00:00 GMT"
    assert feed_server.requests[-1].headers["user-agent"] == USER_AGENT


def test_conditional_get_answers_304_with_no_body(feed_server: FeedServer) -> None:
    first = fetch(f"{feed_server.url}/etag/bbc.xml")
    second = fetch(f"{feed_server.url}/etag/bbc.xml", first.etag, first.last_modified)
    assert feed_server.requests[-1].headers["if-none-match"] == first.etag
    assert second.not_modified and second.ok and second.content == b""
    assert second.etag == first.etag


def test_redirects_are_followed_within_a_limit(feed_server: FeedServer) -> None:
    ok = fetch(f"{feed_server.url}/redirect/3")
    assert ok.ok and ok.final_url.endswith("/feeds/bbc.xml")
    too_many = fetch(f"{feed_server.url}/redirect/9")
    assert too_many.error == "fetch: too many redirects"


def test_http_errors_are_results_not_exceptions(feed_server: FeedServer) -> None:
    for code in (404, 429, 500, 503):
        result = fetch(f"{feed_server.url}/status/{code}")
        assert result.status == code and result.error and result.error.startswith(f"fetch: HTTP {code}")


def test_endless_response_is_cut_off_at_the_cap(feed_server: FeedServer) -> None:
    result = fetch(f"{feed_server.url}/huge", limits=FetchLimits(max_bytes=2_000_000))
    assert result.error == "fetch: response larger than 2,000,000 bytes; cut off"
    assert result.content == b""


def test_slow_server_times_out(feed_server: FeedServer) -> None:
    result = fetch(f"{feed_server.url}/slow/3", limits=FetchLimits(read_timeout=0.5, total_timeout=5))
    assert result.error == "fetch: timed out reading the response"


def test_refused_connection_is_reported() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/feed")
    assert result.error is not None and result.error.startswith("fetch: unable to connect")


def test_local_paths_and_file_urls(tmp_path: Path) -> None:
    feed = tmp_path / "my feed.xml"
    feed.write_bytes(b"<rss/>")
    assert fetch(str(feed)).content == b"<rss/>"
    assert fetch(feed.as_uri()).content == b"<rss/>"
    missing = fetch(str(tmp_path / "nope.xml"))
    assert missing.error is not None and "unable to read" in missing.error


def test_requests_to_one_host_are_limited_to_per_host(feed_server: FeedServer) -> None:
    async def go() -> list[FetchResult]:
        async with Fetcher(FetchLimits(per_host=2)) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(f"{feed_server.url}/slow/0.21") for _ in range(6)))

    results = asyncio.run(go())
    assert all(r.ok for r in results)
    assert feed_server.slow_most_in_flight["0.21"] == 2


def test_conditional_polls_reuse_one_connection(feed_server: FeedServer) -> None:
    """A 304 must hand its connection back to the pool: a feed reader makes thousands of them."""
    first = fetch(f"{feed_server.url}/etag/bbc.xml")

    async def go() -> list[FetchResult]:
        async with Fetcher() as fetcher:
            return [await fetcher.fetch(f"{feed_server.url}/etag/bbc.xml", first.etag) for _ in range(5)]

    before = feed_server.connections
    assert all(r.not_modified for r in asyncio.run(go()))
    assert feed_server.connections - before == 1


def test_malformed_urls_are_results_not_exceptions() -> None:
    for url in ("http://[::1/feed", "ftp://127.0.0.1/feed", "http://127.0.0.1:99999/feed"):
        assert fetch(url).error == "fetch: unsupported URL"
