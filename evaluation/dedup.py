"""Evaluate the clusterer on the hand-labelled set in tests/data/dedup/ through `newsbot dedup`.

Pairwise precision: of the pairs of stories put in one cluster, the share that belong to one event.
Pairwise recall: of the pairs of stories that report one development, the share put in one cluster.
Run: .venv/bin/python -m evaluation.dedup [--window 48h] [--show 10]
"""

from __future__ import annotations

import argparse
import io
import json
from collections import defaultdict
from itertools import combinations
from pathlib import Path

from rapidfuzz import fuzz

from bot.cli import main as newsbot
from bot.normalize import normalize

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "dedup" / "stories.jsonl"


def load(path: Path = DATA) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cluster_with_newsbot(stories: list[dict[str, str]], window: str) -> dict[str, str]:
    """Run `newsbot dedup` on the stories (labels stripped) and return story id -> cluster."""
    lines = "\n".join(
        json.dumps({k: s[k] for k in ("id", "title", "summary", "url", "source", "published")})
        for s in stories
    )
    out, err = io.StringIO(), io.StringIO()
    code = newsbot(["dedup", "--window", window, "-"], {}, io.StringIO(lines), out, err)
    if code != 0:
        raise SystemExit(f"newsbot dedup failed ({code}): {err.getvalue()}")
    return {row["id"]: row["cluster"] for row in map(json.loads, out.getvalue().splitlines())}


def pairs(groups: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for members in groups.values() for p in combinations(members, 2)}  # type: ignore[misc]


def group(labels: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for story_id, label in labels.items():
        grouped[label].append(story_id)
    return grouped


def score(
    predicted: set[tuple[str, str]], events: set[tuple[str, str]], developments: set[tuple[str, str]]
) -> dict[str, float]:
    precision = len(predicted & events) / len(predicted) if predicted else 1.0
    recall = len(predicted & developments) / len(developments) if developments else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "merged_pairs": len(predicted)}


def title_baseline(stories: list[dict[str, str]], threshold: float = 80) -> set[tuple[str, str]]:
    """Pairs a title-only matcher merges: rapidfuzz token_set_ratio >= 80 on normalised titles, within 48 h."""
    from datetime import datetime

    titles = [
        (s["id"], normalize(s["title"]), datetime.fromisoformat(s["published"].replace("Z", "+00:00")))
        for s in stories
    ]
    found = set()
    for (a, ta, wa), (b, tb, wb) in combinations(titles, 2):
        if abs((wa - wb).total_seconds()) <= 48 * 3600 and fuzz.token_set_ratio(ta, tb) >= threshold:
            found.add((min(a, b), max(a, b)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", default="48h")
    parser.add_argument("--show", type=int, default=0, help="print this many wrong merges and missed pairs")
    parser.add_argument("--baseline", action="store_true", help="also score the title-only baseline")
    args = parser.parse_args()
    stories = load()
    by_id = {s["id"]: s for s in stories}
    clusters = cluster_with_newsbot(stories, args.window)
    events = pairs(group({s["id"]: s["event"] for s in stories}))
    developments = pairs(group({s["id"]: s["development"] for s in stories}))
    predicted = pairs(group(clusters))
    result = score(predicted, events, developments)
    print(
        f"{len(stories)} stories, {len(set(s['development'] for s in stories))} developments, "
        f"{len(set(s['event'] for s in stories))} events; {len(developments)} same-development pairs"
    )
    print(
        f"newsbot dedup: precision {result['precision']:.3f}  recall {result['recall']:.3f}  "
        f"F1 {result['f1']:.3f}  clusters {len(set(clusters.values()))}  merged pairs {len(predicted)}"
    )
    if args.baseline:
        base = score(title_baseline(stories), events, developments)
        print(
            f"title-only baseline (token_set_ratio >= 80): precision {base['precision']:.3f}  "
            f"recall {base['recall']:.3f}  F1 {base['f1']:.3f}"
        )
    if args.show:
        print("\nwrong merges (different events):")
        for a, b in sorted(predicted - events)[: args.show]:
            print(f"  {by_id[a]['title'][:70]!r}\n    ~ {by_id[b]['title'][:70]!r}")
        print("\nmissed (same development, not merged):")
        for a, b in sorted(developments - predicted)[: args.show]:
            print(f"  {by_id[a]['title'][:70]!r}\n    ~ {by_id[b]['title'][:70]!r}")


if __name__ == "__main__":
    main()
