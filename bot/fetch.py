"""Fetch feed documents: HTTP(S) with aiohttp, or local files for offline use. Never raises for a feed's failure.

HTTP: connect/read/total timeouts, redirects followed (at most 5), conditional GET (RFC 9110 §13.1:
If-None-Match from the stored ETag, If-Modified-Since from the stored Last-Modified), compressed bodies,
a size cap enforced while streaming, so a huge or never-ending body is cut off, not buffered, at most
`per_host` requests to one host at a time, and no cookies (a feed reader has no session to keep).
Local paths and `file://` URLs are read from disk with the same size cap.

aiohttp rather than httpx: an unchanged feed (304) costs aiohttp ~0.25 ms of CPU against 2.5-3.5 ms for
httpx 0.28 / httpcore 1.0, whose pool polls every pooled connection's socket on each request
(benchmarks/bench_polling.py: 5,000 feeds a cycle).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp
import certifi

from bot import __version__
from bot.model import FetchResult

USER_AGENT = f"newsbot/{__version__} (+https://github.com/newsbot/newsbot; news-monitoring feed reader)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    per_host: int = 4  # polite: at most this many requests to one host at a time
    connections: int = 50  # open connections in all


class Fetcher:
    """One shared HTTP client session for all feeds; use as an async context manager."""

    def __init__(self, limits: FetchLimits | None = None) -> None:
        self.limits = limits or FetchLimits()
        self._session: aiohttp.ClientSession | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use: a session belongs to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.limits.connections, ssl=ssl.create_default_context(cafile=certifi.where())
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Waiting for a free connection is bounded by the total deadline, not by these.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.limits.connect_timeout, sock_read=self.limits.read_timeout
                ),
                headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """Fetch a feed; a failure comes back as `FetchResult.error`, never as an exception."""
        if _is_local(url):
            started = time.monotonic()
            result = await asyncio.to_thread(_read_local, url, self.limits.max_bytes)
            return _with_elapsed(result, time.monotonic() - started)
        try:
            gate = self._host_gate(url)
        except ValueError:  # urlsplit: e.g. an unclosed IPv6 bracket
            return FetchResult(url, error="fetch: unsupported URL")
        async with gate:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.limits.total_timeout):
                    result = await self._get(url, etag, last_modified)
            except TimeoutError:
                result = FetchResult(url, error=f"fetch: timed out after {self.limits.total_timeout:g}s")
            return _with_elapsed(result, time.monotonic() - started)

    def _host_gate(self, url: str) -> asyncio.Semaphore:
        """The semaphore that keeps requests to the URL's host at `limits.per_host` at a time."""
        host = (urlsplit(url).hostname or "").lower()
        gate = self._hosts.get(host)
        if gate is None:
            gate = self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        return gate

    async def _get(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with self._client().get(
                url, headers=headers, allow_redirects=True, max_redirects=self.limits.max_redirects
            ) as response:
                final_url = str(response.url)
                moved = _moved_to(response)
                kept = {k.lower(): v for k, v in response.headers.items()}
                if response.status == 304:
                    return FetchResult(
                        url,
                        304,
                        headers=kept,
                        etag=etag,
                        last_modified=last_modified,
                        final_url=final_url,
                        moved_to=moved,
                    )
                if response.status >= 400:
                    return FetchResult(
                        url,
                        response.status,
                        headers=kept,
                        final_url=final_url,
                        error=f"fetch: HTTP {response.status} {response.reason or ''}".rstrip(),
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.limits.max_bytes:
                    return FetchResult(url, response.status, final_url=final_url, error=self._too_big())
                body = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK):
                    body += chunk
                    if len(body) > self.limits.max_bytes:
                        return FetchResult(url, response.status, final_url=final_url, error=self._too_big())
                return FetchResult(
                    url,
                    response.status,
                    bytes(body),
                    kept,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    final_url=final_url,
                    moved_to=moved,
                )
        except aiohttp.ClientError as exc:  # its socket timeouts included; the total deadline is fetch's
            return FetchResult(url, error=f"fetch: {_reason(exc)}")

    def _too_big(self) -> str:
        return f"fetch: response larger than {self.limits.max_bytes:,} bytes; cut off"


def _moved_to(response: aiohttp.ClientResponse) -> str | None:
    """Where a feed has moved for good: the end of the leading run of permanent redirects (301, 308).

    A temporary redirect (302, 303, 307) ends the run: the feed keeps its address for later polls.
    """
    hops = [*response.history, response]
    moved = None
    for hop, following in zip(hops, hops[1:], strict=False):
        if hop.status not in (301, 308):
            break
        moved = str(following.url)
    return moved


def _reason(exc: aiohttp.ClientError) -> str:
    """Map aiohttp exceptions to a short reason, never with the URL (its query may carry a key)."""
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "timed out connecting"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return "timed out reading the response"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return "unsupported URL"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"unable to connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ClientPayloadError) and "encoding" in str(exc).lower():
        return "response body could not be decompressed"
    if isinstance(exc, aiohttp.ClientResponseError):  # its str() repeats the URL
        return f"broken response ({exc.message or 'protocol error'})"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError):
        return f"broken response ({str(exc).splitlines()[0][:200] or type(exc).__name__})"
    return type(exc).__name__


def _is_local(url: str) -> bool:
    return url.startswith("file://") or "://" not in url


def _read_local(url: str, max_bytes: int) -> FetchResult:
    path = Path(unquote(urlsplit(url).path)) if url.startswith("file://") else Path(url)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return FetchResult(url, error=f"fetch: unable to read {path}: {exc.strerror or exc}")
    if len(data) > max_bytes:
        return FetchResult(url, error=f"fetch: file larger than {max_bytes:,} bytes")
    return FetchResult(url, 200, data, {}, final_url=url)


def _with_elapsed(result: FetchResult, elapsed: float) -> FetchResult:
    return replace(result, elapsed=elapsed)
