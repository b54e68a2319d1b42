"""The polling benchmark's feed server behaves as documented, and a tiny benchmark runs end to end."""

from __future__ import annotations

import asyncio
import gzip
import urllib.error
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.bench_polling import report, run_benchmark
from benchmarks.feedserver import FeedServerProcess, start_server
from benchmarks.feedservice import MIX, parse_mix, plan
from bot.parse import parse_feed

# Every behaviour at least once among 20 feeds: 5 failing feeds take each failure in turn, 2 redirect.
MIX_OF_20 = {"unchanged": 0.5, "changing": 0.1, "slow": 0.05, "error": 0.25, "redirect": 0.1}


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServerProcess]:
    with start_server(20, seed=3, mix=MIX_OF_20) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as http:
        yield http


def feeds_of(server: FeedServerProcess, kind: str, detail: str = "") -> list[int]:
    return [i for i, p in enumerate(server.plan()) if p.kind == kind and p.detail.startswith(detail)]


def test_plan_has_the_shares_of_the_mix_and_depends_only_on_the_seed() -> None:
    profiles = plan(5000, seed=1)
    assert Counter(p.kind for p in profiles) == {
        "unchanged": 4000,
        "changing": 600,
        "slow": 150,
        "error": 150,
        "redirect": 100,
    }
    assert Counter(p.detail for p in profiles if p.kind == "error") == {
        "500": 30,
        "503": 30,
        "404": 30,
        "garbage": 30,
        "reset": 30,
    }
    assert all(0.5 <= p.delay <= 2.0 for p in profiles if p.kind == "slow")
    assert plan(5000, seed=1) == profiles and plan(5000, seed=2) != profiles
    assert parse_mix("unchanged=4,error=1") == {"unchanged": 4.0, "error": 1.0}
    with pytest.raises(ValueError, match="unknown feed kind 'broken'"):
        parse_mix("broken=1")
    assert set(MIX) == {"unchanged", "changing", "slow", "error", "redirect"}


def test_feeds_are_rss_with_validators_and_304_on_a_match(
    server: FeedServerProcess, client: httpx.Client
) -> None:
    server.start_cycle("steady")
    first = client.get(server.feed_url(0))
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/rss+xml")
    parsed = parse_feed(first.content, first.headers, server.feed_url(0))
    assert parsed.error is None and len(parsed.stories) == 30
    assert len({s.id for s in parsed.stories}) == 30 and all(s.title and s.summary for s in parsed.stories)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(server.feed_url(0), headers={"If-None-Match": etag}).status_code == 304
    assert client.get(server.feed_url(0), headers={"If-Modified-Since": modified}).status_code == 304
    # RFC 9110 §13.1.3: a non-matching If-None-Match wins over a matching If-Modified-Since.
    stale = {"If-None-Match": '"stale"', "If-Modified-Since": modified}
    assert client.get(server.feed_url(0), headers=stale).status_code == 200
    other = client.get(server.feed_url(1))
    assert other.headers["etag"] != etag and other.content != first.content
    assert client.get(f"{server.url}/feed/20.xml").status_code == 404
    assert client.get(f"{server.url}/nowhere").status_code == 404


def test_documents_are_gzipped_when_asked(server: FeedServerProcess) -> None:
    with httpx.Client(trust_env=False, headers={"Accept-Encoding": "gzip"}) as http:
        with http.stream("GET", server.feed_url(0)) as response:
            body = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b'<?xml version="1.0"')


def test_feeds_share_stories_as_syndication_does(server: FeedServerProcess, client: httpx.Client) -> None:
    server.start_cycle("steady")
    stories = [
        story
        for i in range(16)
        for story in parse_feed(client.get(server.feed_url(i)).content, {}, server.feed_url(i)).stories
    ]
    ids = Counter(s.id for s in stories)
    titles = Counter(s.title for s in stories)
    assert any(n > 1 for n in ids.values())  # an outlet's top story in several of its sections
    assert sum(titles.values()) - len(titles) > sum(ids.values()) - len(ids)  # wire copy under other links


def test_mixed_cycle_fails_redirects_and_delays_by_profile(
    server: FeedServerProcess, client: httpx.Client
) -> None:
    server.start_cycle("steady")
    etags = {i: client.get(server.feed_url(i)).headers["etag"] for i in range(20)}
    server.start_cycle("mixed")

    def get(i: int) -> httpx.Response:
        return client.get(server.feed_url(i), headers={"If-None-Match": etags[i]}, follow_redirects=True)

    for i in feeds_of(server, "unchanged") + feeds_of(server, "slow"):
        assert get(i).status_code == 304
    for i in feeds_of(server, "changing"):
        changed = get(i)
        assert changed.status_code == 200 and changed.headers["etag"] != etags[i]
    (moved,) = feeds_of(server, "redirect", "301")
    (found,) = feeds_of(server, "redirect", "302")
    assert [r.status_code for r in get(moved).history] == [301] and get(
        moved
    ).url.path == f"/moved/{moved}.xml"
    assert [r.status_code for r in get(found).history] == [302] and get(
        found
    ).url.path == f"/temp/{found}.xml"
    assert get(moved).status_code == 304  # the conditional request follows the redirect
    assert get(feeds_of(server, "error", "500")[0]).status_code == 500
    busy = get(feeds_of(server, "error", "503")[0])
    assert busy.status_code == 503 and busy.headers["retry-after"] == "120"
    assert get(feeds_of(server, "error", "404")[0]).status_code == 404
    garbage = get(feeds_of(server, "error", "garbage")[0])
    assert garbage.status_code == 200 and parse_feed(garbage.content, garbage.headers, "g").error
    with pytest.raises(httpx.TransportError):
        get(feeds_of(server, "error", "reset")[0])
    stats = server.stats()
    assert stats["mode"] == "mixed" and stats["delayed"] == len(feeds_of(server, "slow"))
    assert stats["responses"]["301"] == 3 and stats["responses"]["reset"] == 1


def test_a_steady_cycle_answers_every_known_feed_with_304(
    server: FeedServerProcess, client: httpx.Client
) -> None:
    server.start_cycle("mixed")
    etags = {}
    for i in feeds_of(server, "unchanged") + feeds_of(server, "changing"):
        etags[i] = client.get(server.feed_url(i)).headers["etag"]
    server.start_cycle("steady")
    assert all(
        client.get(server.feed_url(i), headers={"If-None-Match": e}).status_code == 304
        for i, e in etags.items()
    )
    assert server.stats()["responses"] == {"304": len(etags)}
    with pytest.raises(urllib.error.HTTPError):
        server.start_cycle("chaos")


def test_a_tiny_benchmark_runs_end_to_end() -> None:
    said: list[str] = []
    cycles, naive = asyncio.run(run_benchmark(20, 5, 5, 0.2, progress=False, say=said.append))
    cold, mixed, quiet = cycles
    assert [c.name for c in cycles] == ["cold", "mixed", "all 304"]
    assert cold.outcomes == {"new": 20} and cold.responses == {"200": 20} and cold.stories > 400
    profiles = Counter(p.kind for p in plan(20, seed=1))
    assert mixed.outcomes.get("error", 0) == profiles["error"]
    assert mixed.outcomes.get("new", 0) == profiles["changing"] and mixed.stories > 0
    assert quiet.outcomes == {"unchanged": 20} and quiet.responses == {"304": 20} and quiet.stories == 0
    assert naive > 0 and any("server alone" in line for line in said)
    lines = report(cycles, naive, 5, 5)
    assert lines[-1].startswith("targets: ") and "naive poller" in lines[-2]
