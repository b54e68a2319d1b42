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

Start it with `start_server(feeds)` (a child process; returns a handle with its URL), or from a shell:
`python -m benchmarks.feedserver --feeds 5000 --port 8800` (for pollers in other processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import subprocess
import sys
import time
import urllib.request
from typing import Any

from benchmarks.common import ROOT
from benchmarks.feedservice import MIX, RESET, FeedService, Profile, Reply, format_mix, parse_mix

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
