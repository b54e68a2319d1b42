"""Observability: Prometheus metrics and a health check over HTTP. The only module that imports prometheus_client.

`GET /metrics` gives the Prometheus text format (polls by outcome, poll latency, stories, matches,
messages by outcome, queue depth, feeds by health); `GET /healthz` gives a small JSON document, status
200 while the service is healthy (its loop ticks and the database answers) and 503 when it is not. The
server is the standard library's WSGI server on a daemon thread, bound to loopback by default; each
`Metrics` has its own registry, so several services (or tests) in one process do not mix their figures.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from bot.pipeline import PollReport

log = logging.getLogger(__name__)

Health = Callable[[], tuple[bool, dict[str, Any]]]
Refresh = Callable[[], None]
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The service's counters; cheap to update from the event loop."""

    def __init__(self, role: str = "all") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter("newsbot_polls", "Feed polls by outcome", ["outcome"], registry=r)
        self.poll_errors = Counter("newsbot_poll_errors", "Feed polls that failed", registry=r)
        self.poll_latency = Histogram(
            "newsbot_poll_seconds", "Time to fetch a feed", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.parse_seconds = Counter("newsbot_parse_seconds", "Time spent parsing feeds", registry=r)
        self.store_seconds = Counter(
            "newsbot_store_seconds", "Time spent matching, clustering and storing stories", registry=r
        )
        self.items = Counter("newsbot_items", "Feed entries read from changed feeds", registry=r)
        self.stories = Counter("newsbot_stories", "New stories stored", registry=r)
        self.matches = Counter("newsbot_matches", "New stories starting a matched cluster", registry=r)
        self.messages = Counter("newsbot_messages", "Messages by delivery outcome", ["outcome"], registry=r)
        self.queue_depth = Gauge("newsbot_outbox_depth", "Messages waiting in the outbox", registry=r)
        self.feeds = Gauge("newsbot_feeds", "Feeds by health", ["health"], registry=r)
        info = Gauge("newsbot_info", "Which role this process plays", ["role"], registry=r)
        info.labels(role).set(1)
        for outcome in ("new", "unchanged", "error"):
            self.polls.labels(outcome)
        for outcome in ("sent", "retrying", "failed"):
            self.messages.labels(outcome)

    def polled(self, report: PollReport) -> None:
        if report.outcome == "deferred":
            return
        self.polls.labels(report.outcome).inc()
        self.poll_latency.observe(report.elapsed)
        if report.outcome == "error":
            self.poll_errors.inc()
        self.parse_seconds.inc(report.parse_seconds)
        self.store_seconds.inc(report.store_seconds)
        self.items.inc(report.entries)
        self.stories.inc(report.new)
        self.matches.inc(report.matched)

    def delivered(self, sent: int, retrying: int, failed: int) -> None:
        self.messages.labels("sent").inc(sent)
        self.messages.labels("retrying").inc(retrying)
        self.messages.labels("failed").inc(failed)

    def set_feed_health(self, counts: Iterable[tuple[str, int]]) -> None:
        for health in ("ok", "failing", "unhealthy", "never polled"):
            self.feeds.labels(health).set(0)
        for health, count in counts:
            self.feeds.labels(health).set(count)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsServer:
    """`/metrics` and `/healthz` on host:port, served from a daemon thread until `close`."""

    def __init__(
        self, metrics: Metrics, health: Health, host: str, port: int, refresh: Refresh | None = None
    ) -> None:
        prometheus = make_wsgi_app(metrics.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if path == "/metrics":
                if refresh is not None:
                    try:
                        refresh()
                    except Exception:  # the database: serve the counters anyway; /healthz says what is wrong
                        log.warning("Unable to refresh the metrics read from the database", exc_info=True)
                return prometheus(environ, start_response)  # type: ignore[no-any-return]
            if path in ("/healthz", "/health", "/"):
                try:
                    ok, detail = health()
                except Exception as exc:  # the health check itself failing is ill health
                    ok, detail = False, {"error": type(exc).__name__}
                body = json.dumps({"status": "ok" if ok else "unhealthy", **detail}, default=str).encode()
                status = "200 OK" if ok else "503 Service Unavailable"
                start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
                return [body]
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /metrics or /healthz\n"]

        self._server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(
    metrics: Metrics, health: Health, host: str, port: int, refresh: Refresh | None = None
) -> MetricsServer | None:
    """Start the metrics server; if the port is taken, log it and go on without (the service matters more).

    `refresh` runs before each scrape of /metrics, to set the gauges that are read rather than counted.
    """
    try:
        server = MetricsServer(metrics, health, host, port, refresh)
    except OSError as exc:
        log.warning(
            "Unable to serve /metrics and /healthz", extra={"address": f"{host}:{port}", "error": str(exc)}
        )
        return None
    log.info("Serving /metrics and /healthz", extra={"address": f"http://{host}:{server.port}"})
    return server
