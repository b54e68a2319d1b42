"""Matcher benchmark: stories per second at 50, 500 and 5,000 terms, against the plain rapidfuzz loop.

Run: .venv/bin/python -m benchmarks.bench_matcher
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from functools import partial

from rapidfuzz import fuzz

from benchmarks.common import real_stories, watchlist_rules
from bot.lexicon import common_words
from bot.matching import Matcher
from bot.model import Story
from bot.normalize import normalize
from bot.watchlist import Rule

ROUNDS = 5


def median_of_rounds(measure: Callable[[float], float], seconds: float) -> tuple[float, float, float]:
    """Run a measurement in rounds and return (median, lowest, highest): one round can hit a noisy moment."""
    results = sorted(measure(seconds / ROUNDS) for _ in range(ROUNDS))
    return statistics.median(results), results[0], results[-1]


def stories_per_second(matcher: Matcher, stories: list[Story], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while True:
        for story in stories:
            matcher.match(story)
        done += len(stories)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def baseline_per_second(rules: list[Rule], stories: list[Story], seconds: float) -> float:
    """The plain loop: rapidfuzz partial_ratio of every term against every story."""
    terms = [normalize(t) for r in rules for t in r.terms + r.aliases]
    texts = [normalize(f"{s.title} {s.summary}") for s in stories]
    done, started = 0, time.perf_counter()
    for text in texts:
        for term in terms:
            fuzz.partial_ratio(term, text, score_cutoff=85)
        done += 1
        if time.perf_counter() - started >= seconds:
            break
    return done / (time.perf_counter() - started)


def memory_mb(rules: list[Rule], lexicon: frozenset[str], stories: list[Story]) -> float:
    gc.collect()
    tracemalloc.start()
    matcher = Matcher(rules, lexicon)
    for story in stories:
        matcher.match(story)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="time per measurement (split into rounds)"
    )
    args = parser.parse_args()
    stories = real_stories()
    lexicon = common_words()
    print(
        f"{len(stories)} real stories (title + 60-word summary); one core; {args.seconds:g}s per measurement"
    )
    print(
        f"warm and baseline: median of {ROUNDS} rounds, as this machine's speed varies; warm range: all rounds"
    )
    print(
        f"{'terms':>6} {'rules':>6} {'build s':>8} {'cold st/s':>10} {'warm st/s':>10} {'warm range':>13} "
        f"{'baseline st/s':>14} {'speed-up':>9} {'memory MB':>10}"
    )
    for size in (50, 500, 5000):
        rules = watchlist_rules(size)
        terms = sum(len(r.terms) + len(r.aliases) for r in rules)
        started = time.perf_counter()
        matcher = Matcher(rules, lexicon)
        build = time.perf_counter() - started
        started = time.perf_counter()
        for story in stories:
            matcher.match(story)
        cold = len(stories) / (time.perf_counter() - started)
        warm, low, high = median_of_rounds(partial(stories_per_second, matcher, stories), args.seconds)
        base, _, _ = median_of_rounds(partial(baseline_per_second, rules, stories), args.seconds)
        mem = memory_mb(rules, lexicon, stories)
        spread = f"{low / 1000:.1f}k-{high / 1000:.1f}k"
        print(
            f"{terms:>6} {len(rules):>6} {build:>8.2f} {cold:>10,.0f} {warm:>10,.0f} {spread:>13} "
            f"{base:>14,.1f} {warm / base:>8,.0f}x {mem:>10.1f}"
        )


if __name__ == "__main__":
    main()
