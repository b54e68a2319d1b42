"""A loopback HTTP server with scripted behaviours for fetch tests (after httpx's tests/conftest.py).

Routes:
  /feeds/<file>          the file from tests/data/feeds (or a registered body), with ETag and Last-Modified
  /etag/<file>           same, answering 304 to a matching If-None-Match
  /status/<code>         that status, empty body
  /slow/<seconds>        waits, then a small feed
  /huge                  an endless body (until the client hangs up)
  /redirect/<n>          n redirects (302) then /feeds/bbc.xml
  /moved/<file>          301 to /feeds/<file>; /moved308/<file> the same with 308; /temporary/<file> with 307
  /page/<file>           an HTML page whose <link rel="alternate"> names /feeds/<file>
Every request is recorded (path and headers) so tests can assert on what the client sent, and so are the
connections accepted and the most requests to each /slow/<seconds> in progress at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "feeds"
LAST_MODIFIED = "Wed, 15 Nov 2023 12:00:00 GMT"


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading server that does not print clients hanging up (killed pollers, timeouts, size caps)."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]


@dataclass
class FeedServer:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    bodies: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # extra response headers per file
    connections: int = 0  # TCP connections accepted
    slow_in_flight: dict[str, int] = field(default_factory=dict)  # by /slow/<seconds> path
    slow_most_in_flight: dict[str, int] = field(default_factory=dict)  # the most answered at once
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def publish(self, name: str, body: bytes, headers: dict[str, str] | None = None) -> str:
        """Serve `body` at /feeds/<name> (and /etag/<name>), with extra headers; return its URL."""
        self.bodies[name] = body
        self.headers[name] = headers or {}
        return f"{self.url}/feeds/{name}"

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def do_GET(self) -> None:
                server.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}))
                parts = self.path.strip("/").split("/", 1)
                route, arg = parts[0], parts[1] if len(parts) > 1 else ""
                try:
                    getattr(self, f"route_{route}", self.not_found)(arg)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def body_of(self, name: str) -> bytes | None:
                if name in server.bodies:
                    return server.bodies[name]
                path = DATA / name
                return path.read_bytes() if path.is_file() and path.parent == DATA else None

            def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def route_feeds(self, name: str) -> None:
                body = self.body_of(name)
                if body is None:
                    return self.not_found(name)
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                self.send(
                    200,
                    body,
                    {
                        "Content-Type": "application/rss+xml",
                        "ETag": etag,
                        "Last-Modified": LAST_MODIFIED,
                        **server.headers.get(name, {}),
                    },
                )

            def route_etag(self, name: str) -> None:
                body = self.body_of(name)
                if body is None:
                    return self.not_found(name)
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self.send(304, b"", {"ETag": etag})
                self.send(
                    200,
                    body,
                    {"Content-Type": "application/rss+xml", "ETag": etag, "Last-Modified": LAST_MODIFIED},
                )

            def route_status(self, code: str) -> None:
                self.send(int(code), b"", {"Retry-After": "120"} if code in ("429", "503") else None)

            def route_slow(self, seconds: str) -> None:
                with server._lock:
                    now = server.slow_in_flight[seconds] = server.slow_in_flight.get(seconds, 0) + 1
                    server.slow_most_in_flight[seconds] = max(server.slow_most_in_flight.get(seconds, 0), now)
                try:
                    time.sleep(float(seconds or 1))
                finally:
                    with server._lock:
                        server.slow_in_flight[seconds] -= 1
                self.route_feeds("bbc.xml")

            def route_huge(self, _: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()
                chunk = b"<rss><channel>" + b"x" * 65536
                for _ in range(100_000):  # ~6 GB at most; the client hangs up long before
                    self.wfile.write(chunk)

            def route_redirect(self, n: str) -> None:
                left = int(n or 1)
                target = f"/redirect/{left - 1}" if left > 1 else "/feeds/bbc.xml"
                self.send(302, b"", {"Location": target})

            def route_moved(self, name: str) -> None:
                self.send(301, b"", {"Location": f"/feeds/{name}"})

            def route_moved308(self, name: str) -> None:
                self.send(308, b"", {"Location": f"/feeds/{name}"})

            def route_temporary(self, name: str) -> None:
                self.send(307, b"", {"Location": f"/feeds/{name}"})

            def route_page(self, name: str) -> None:
                page = (
                    "<!DOCTYPE html><html><head><title>News</title>"
                    f'<link rel="alternate" type="application/rss+xml" title="RSS" href="/feeds/{name}">'
                    "</head><body><h1>Latest news</h1></body></html>"
                )
                self.send(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

            def not_found(self, _: str) -> None:
                self.send(404, b"not found")

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]
