"""Fetch feed documents: HTTP(S) with httpx, or local files for offline use. Never raises for a feed's failure.

HTTP: connect/read/total timeouts, redirects followed (at most 5), conditional GET (RFC 9110 §13.1:
If-None-Match from the stored ETag, If-Modified-Since from the stored Last-Modified), compressed bodies,
and a size cap enforced while streaming, so a huge or never-ending body is cut off, not buffered.
Local paths and `file://` URLs are read from disk with the same size cap.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from bot import __version__
from bot.model import FetchResult

USER_AGENT = f"newsbot/{__version__} (+https://github.com/newsbot/newsbot; news-monitoring feed reader)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True, slots=True)
class FetchLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    per_host: int = 4  # polite: at most this many requests to one host at a time


class Fetcher:
    """One shared HTTP client for all feeds; use as an async context manager."""

    def __init__(
        self, limits: FetchLimits | None = None, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.limits = limits or FetchLimits()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout),
            follow_redirects=True,
            max_redirects=self.limits.max_redirects,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            transport=transport,
            trust_env=False,
        )
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """Fetch a feed; a failure comes back as `FetchResult.error`, never as an exception."""
        if _is_local(url):
            started = time.monotonic()
            result = await asyncio.to_thread(_read_local, url, self.limits.max_bytes)
            return _with_elapsed(result, time.monotonic() - started)
        async with self._host_gate(url):
            started = time.monotonic()
            try:
                # asyncio.timeout rather than wait_for, which on 3.11 runs the request in a task of its own.
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
            async with self._client.stream("GET", url, headers=headers) as response:
                final_url = str(response.url)
                moved = _moved_to(response)
                kept = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code == 304:
                    # Reading the (empty) body returns the connection to the pool: httpcore closes the
                    # connection of a response closed unread, and each poll would open a new one.
                    await response.aread()
                    return FetchResult(
                        url,
                        304,
                        headers=kept,
                        etag=etag,
                        last_modified=last_modified,
                        final_url=final_url,
                        moved_to=moved,
                    )
                if response.status_code >= 400:
                    return FetchResult(
                        url,
                        response.status_code,
                        headers=kept,
                        final_url=final_url,
                        error=f"fetch: HTTP {response.status_code} {response.reason_phrase}".rstrip(),
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.limits.max_bytes:
                    return FetchResult(url, response.status_code, final_url=final_url, error=self._too_big())
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.limits.max_bytes:
                        return FetchResult(
                            url, response.status_code, final_url=final_url, error=self._too_big()
                        )
                return FetchResult(
                    url,
                    response.status_code,
                    bytes(body),
                    kept,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    final_url=final_url,
                    moved_to=moved,
                )
        except httpx.HTTPError as exc:
            return FetchResult(url, error=f"fetch: {_reason(exc)}")

    def _too_big(self) -> str:
        return f"fetch: response larger than {self.limits.max_bytes:,} bytes; cut off"


def _moved_to(response: httpx.Response) -> str | None:
    """Where a feed has moved for good: the end of the leading run of permanent redirects (301, 308).

    A temporary redirect (302, 303, 307) ends the run: the feed keeps its address for later polls.
    """
    hops = [*response.history, response]
    moved = None
    for hop, following in zip(hops, hops[1:], strict=False):
        if hop.status_code not in (301, 308):
            break
        moved = str(following.request.url)
    return moved


def _reason(exc: httpx.HTTPError) -> str:
    """Map httpx exceptions to a short reason, without the URL's query (which may carry a key)."""
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, httpx.ReadTimeout):
        return "timed out reading the response"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"unable to connect ({str(exc) or type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"broken response ({str(exc) or 'protocol error'})"
    if isinstance(exc, httpx.DecodingError):
        return "response body could not be decompressed"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"unsupported URL ({exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


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
