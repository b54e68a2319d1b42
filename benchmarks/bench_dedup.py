"""Dedup benchmark: stream 100,000 realistic stories (20% near-duplicates) through the clusterer.

Prints stories per second overall and per 10,000-story slice (to show no quadratic growth), peak memory,
and, in the same run, the all-pairs baseline (every new story compared with every earlier one) on the
first 5,000 stories. Run: .venv/bin/python -m benchmarks.bench_dedup
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from datetime import UTC, datetime, timedelta

from rapidfuzz import fuzz

from benchmarks.common import real_stories
from bot.dedup import ClusterIndex
from bot.meaning import embedder
from bot.model import Story
from bot.normalize import normalize

START = datetime(2024, 1, 1, tzinfo=UTC)


def synthetic_stream(count: int, duplicate_share: float, seed: int = 7) -> list[Story]:
    """Stories built from real headlines and real summary text, with near-duplicate copies mixed in.

    A new story joins the first half of one real headline to the second half of another, with a word
    replaced from the real vocabulary, over a summary of four 15-word runs of real summary text; a
    near-duplicate re-publishes a story from the last few hours under another outlet, with a word of the
    headline and a few summary words changed.
    Stories arrive about 25 seconds apart, so a 48-hour window holds some 7,000 of them.
    """
    rng = random.Random(seed)
    base = real_stories()
    titles = [s.title.split() for s in base if len(s.title.split()) >= 5]
    text = " ".join(s.summary for s in base).split()
    vocabulary = sorted({w for t in titles for w in t} | set(text))
    stream: list[Story] = []
    for i in range(count):
        when = START + timedelta(seconds=25 * i)
        if stream and rng.random() < duplicate_share:
            original = stream[max(0, len(stream) - rng.randint(1, 800))]
            title = original.title.split()
            title[rng.randrange(len(title))] = rng.choice(vocabulary)
            summary = original.summary.split()
            for _ in range(3):
                summary[rng.randrange(len(summary))] = rng.choice(vocabulary)
            stream.append(
                Story(f"s{i}", " ".join(title), " ".join(summary), source=f"outlet{i % 40}", published=when)
            )
            continue
        first, second = rng.choice(titles), rng.choice(titles)
        title = first[: len(first) // 2] + second[len(second) // 2 :]
        title[rng.randrange(len(title))] = rng.choice(vocabulary)
        summary: list[str] = []
        while len(summary) < 60:
            offset = rng.randrange(len(text) - 15)
            summary += text[offset : offset + 15]
        stream.append(
            Story(f"s{i}", " ".join(title), " ".join(summary[:60]), source=f"outlet{i % 40}", published=when)
        )
    return stream


def run_index(stream: list[Story], slice_size: int, lexical: bool = False) -> tuple[float, list[float], int]:
    index = ClusterIndex(embed=None if lexical else embedder())
    rates, clusters = [], 0
    started = slice_started = time.perf_counter()
    for i, story in enumerate(stream, 1):
        if index.assign(story, story.published or START).is_new_cluster:
            clusters += 1
        if i % slice_size == 0:
            now = time.perf_counter()
            rates.append(slice_size / (now - slice_started))
            slice_started = now
    return len(stream) / (time.perf_counter() - started), rates, clusters


def all_pairs(stream: list[Story]) -> float:
    """The naive clusterer: compare each new story with every earlier one (title ratio and word overlap)."""
    seen: list[tuple[str, set[str]]] = []
    started = time.perf_counter()
    for story in stream:
        title, words = normalize(story.title), set(normalize(story.summary).split())
        for other_title, other_words in seen:
            if fuzz.token_sort_ratio(title, other_title) >= 90:
                break
            if len(words & other_words) / max(1, len(words | other_words)) >= 0.6:
                break
        seen.append((title, words))
    return len(stream) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--baseline", type=int, default=5_000, help="stories for the all-pairs baseline")
    parser.add_argument("--lexical", action="store_true", help="without text embeddings (words alone)")
    args = parser.parse_args()
    embedder()  # loaded before the clock starts, as the service loads it at start
    stream = synthetic_stream(args.stories, args.duplicates)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate, rates, clusters = run_index(stream, 10_000, args.lexical)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    baseline = all_pairs(stream[: args.baseline])
    print(
        f"{args.stories:,} stories (title + 60-word summary, {args.duplicates:.0%} near-duplicates), one core, "
        + ("words alone (--lexical)" if args.lexical else "with text embeddings")
    )
    print(f"clusterer: {rate:,.0f} stories/s overall; {clusters:,} clusters")
    print("per 10,000-story slice (stories/s): " + ", ".join(f"{r:,.0f}" for r in rates))
    if rates:
        print(f"throughput at {len(rates) * 10}k vs at 10k: {rates[-1] / rates[0]:.2f}x")
    print(
        f"peak memory (process RSS): {rss_after:,.0f} MB (stream and interpreter alone: {rss_before:,.0f} MB)"
    )
    print(
        f"all-pairs baseline on the first {args.baseline:,}: {baseline:,.0f} stories/s; "
        f"clusterer is {rate / baseline:,.1f}x faster"
    )


if __name__ == "__main__":
    main()
