"""Evaluate the clusterer on the hand-labelled set in tests/data/dedup/ through `newsbot dedup`.

Pairwise precision: of the pairs of stories put in one cluster, the share that belong to one event.
Pairwise recall: of the pairs of stories that report one development, the share put in one cluster.
Strict precision (reported too): of the merged pairs, the share that report one development.
Run: .venv/bin/python -m evaluation.dedup [--window 48h] [--show 10] [--baseline] [--curve] [--fit]
[--lexical] [--fold event|development]

--curve prints precision and recall for a range of join probabilities, on all days and on each half of
the days. --fit refits the weights of the clusterer's model (logistic regression on the evidence of every
candidate pair the clusterer scores: pairs of one development against pairs of different events, the
pairs of one event but different developments left out), once on all days (the weights to ship)
and once on each half of the days, scored on the other half (held out), to show how well the fit holds.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

from rapidfuzz import fuzz

from bot.cli import main as newsbot
from bot.dedup import EVIDENCE, FOLDS, ClusterIndex, DedupConfig, Evidence, Model
from bot.jsonl import story_from_json
from bot.meaning import embedder
from bot.normalize import normalize
from bot.watchlist import parse_span

Pair = tuple[str, str]
PROBABILITIES = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9]

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "dedup" / "stories.jsonl"


def load(path: Path = DATA) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cluster_with_newsbot(stories: list[dict[str, str]], window: str, fold: str = "event") -> dict[str, str]:
    """Run `newsbot dedup` on the stories (labels stripped) at a fold level; return story id -> cluster."""
    lines = "\n".join(
        json.dumps({k: s[k] for k in ("id", "title", "summary", "url", "source", "published")})
        for s in stories
    )
    out, err = io.StringIO(), io.StringIO()
    environ = {"NEWSBOT_DEDUP_FOLD": fold}
    code = newsbot(["dedup", "--window", window, "-"], environ, io.StringIO(lines), out, err)
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


def cluster(
    stories: list[dict[str, str]], config: DedupConfig, observe: bool = False, lexical: bool = False
) -> tuple[dict[str, str], list[tuple[str, str, Evidence]]]:
    """Cluster the stories as `newsbot dedup` does, with a given config; optionally keep every candidate.

    `lexical` leaves the text embeddings out (the model for an index without an embedder)."""
    seen: list[tuple[str, str, Evidence]] = []
    record_pair = (lambda a, b, e: seen.append((a, b, e))) if observe else None
    index = ClusterIndex(config, record_pair, None if lexical else embedder())
    latest, clusters = datetime(1970, 1, 1, tzinfo=UTC), {}
    for record in stories:
        story = story_from_json(
            {k: record[k] for k in ("id", "title", "summary", "url", "source", "published")}
        )
        latest = max(latest, story.published or latest)
        clusters[story.id] = index.assign(story, latest).cluster_id
    return clusters, seen


class Truth:
    """The labelled pairs, optionally restricted to pairs whose stories were both published on given days."""

    def __init__(self, stories: list[dict[str, str]]) -> None:
        self.day = {s["id"]: s["published"][:10] for s in stories}
        self.days = sorted(set(self.day.values()))
        self.events = pairs(group({s["id"]: s["event"] for s in stories}))
        self.developments = pairs(group({s["id"]: s["development"] for s in stories}))

    def score(self, clusters: dict[str, str], days: Iterable[str] | None = None) -> dict[str, float]:
        predicted, events, developments = pairs(group(clusters)), self.events, self.developments
        if days is not None:
            keep = set(days)
            predicted, events, developments = (
                {p for p in ps if self.day[p[0]] in keep and self.day[p[1]] in keep}
                for ps in (predicted, events, developments)
            )
        result = score(predicted, events, developments)
        result["strict_precision"] = len(predicted & developments) / len(predicted) if predicted else 1.0
        return result

    def halves(self) -> tuple[list[str], list[str]]:
        return self.days[0::2], self.days[1::2]


def describe(result: dict[str, float]) -> str:
    return (
        f"precision {result['precision']:.3f}  recall {result['recall']:.3f}  F1 {result['f1']:.3f}  "
        f"strict precision {result['strict_precision']:.3f}"
    )


def fit_logistic(rows: list[Evidence], labels: list[int], l2: float = 1.0) -> tuple[list[float], float]:
    """Fit logistic regression (Newton's method, L2 on standardised features); return weights and bias."""
    d, n = len(rows[0]), len(rows)
    mean = [sum(r[j] for r in rows) / n for j in range(d)]
    std = [math.sqrt(sum((r[j] - mean[j]) ** 2 for r in rows) / n) or 1.0 for j in range(d)]
    xs = [[1.0] + [(r[j] - mean[j]) / std[j] for j in range(d)] for r in rows]
    beta = [0.0] * (d + 1)
    for _ in range(25):
        grad = [-l2 * b if j else 0.0 for j, b in enumerate(beta)]
        hess = [[(l2 if i == j and i else 0.0) for j in range(d + 1)] for i in range(d + 1)]
        for x, y in zip(xs, labels, strict=True):
            z = sum(b * v for b, v in zip(beta, x, strict=True))
            p = 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))
            w = p * (1 - p)
            for i, xi in enumerate(x):
                grad[i] += (y - p) * xi
                row, wxi = hess[i], w * xi
                for j in range(i + 1):
                    row[j] += wxi * x[j]
        for i in range(d + 1):
            for j in range(i):
                hess[j][i] = hess[i][j]
        step = _solve(hess, grad)
        beta = [b + s for b, s in zip(beta, step, strict=True)]
        if max(map(abs, step)) < 1e-6:
            break
    weights = [beta[j + 1] / std[j] for j in range(d)]
    bias = beta[0] - sum(w * m for w, m in zip(weights, mean, strict=True))
    return weights, bias


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve a x = b by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [row[:] + [v] for row, v in zip(a, b, strict=True)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for k in range(c, n + 1):
                m[r][k] -= f * m[c][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


def fit(
    stories: list[dict[str, str]],
    truth: Truth,
    days: Iterable[str] | None = None,
    lexical: bool = False,
    fold: str = "event",
) -> DedupConfig:
    """Refit the model's weights on the candidates of stories published on `days` (all days by default)."""
    development = {s["id"]: s["development"] for s in stories}
    event = {s["id"]: s["event"] for s in stories}
    config = DedupConfig.folding(fold)
    _, seen = cluster(stories, config, observe=True, lexical=lexical)
    keep = set(days) if days is not None else set(truth.days)
    # Folding events: what must join (one development) against what must stay apart (different events); a
    # pair of one event but two developments (a ruling and a reaction to it) is neither, and is left out.
    # Folding developments: one development against everything else.
    rows = [
        (e, int(development[a] == development[b]))
        for a, b, e in seen
        if truth.day[a] in keep
        and (fold == "development" or development[a] == development[b] or event[a] != event[b])
    ]
    if lexical:  # the meaning evidence is 0 throughout: fit the rest, and give it no weight
        meaning = EVIDENCE.index("meaning")
        rows = [(e[:meaning] + e[meaning + 1 :], y) for e, y in rows]
    weights, bias = fit_logistic([e for e, _ in rows], [y for _, y in rows])
    if lexical:
        weights.insert(meaning, 0.0)
    shipped = config.lexical_model if lexical else config.model
    model = Model(tuple(round(w, 3) for w in weights), round(bias, 3), shipped.join_probability)
    return _with_model(config, model, lexical)


def _with_model(config: DedupConfig, model: Model, lexical: bool) -> DedupConfig:
    return dataclasses.replace(config, **{"lexical_model" if lexical else "model": model})


def curve(
    stories: list[dict[str, str]], truth: Truth, config: DedupConfig, days: list[str] | None, lexical: bool
) -> None:
    model = config.lexical_model if lexical else config.model
    for probability in PROBABILITIES:
        tried = _with_model(config, dataclasses.replace(model, join_probability=probability), lexical)
        clusters, _ = cluster(stories, tried, lexical=lexical)
        print(f"  join at {probability:.2f}: {describe(truth.score(clusters, days))}")


def refit(stories: list[dict[str, str]], truth: Truth, lexical: bool, fold: str) -> None:
    config = fit(stories, truth, lexical=lexical, fold=fold)
    model = config.lexical_model if lexical else config.model
    name = ("DEVELOPMENT_" if fold == "development" else "") + ("LEXICAL" if lexical else "SEMANTIC")
    print(f"fitted on all days (paste into {name} in bot/dedup.py):")
    print(f"  weights = {model.weights}\n  bias = {model.bias}")
    print(
        "  (" + ", ".join(f"{name} {w:+.2f}" for name, w in zip(EVIDENCE, model.weights, strict=True)) + ")"
    )
    first, second = truth.halves()
    for train, test in ((first, second), (second, first)):
        print(f"fitted on {', '.join(train)}; scored on held-out {', '.join(test)}:")
        curve(stories, truth, fit(stories, truth, train, lexical, fold), test, lexical)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", default="48h")
    parser.add_argument("--show", type=int, default=0, help="print this many wrong merges and missed pairs")
    parser.add_argument("--baseline", action="store_true", help="also score the title-only baseline")
    parser.add_argument("--curve", action="store_true", help="precision and recall by join probability")
    parser.add_argument("--fit", action="store_true", help="refit the model's weights; held-out scores")
    parser.add_argument(
        "--lexical", action="store_true", help="without text embeddings (words alone: the fallback model)"
    )
    parser.add_argument(
        "--fold",
        choices=FOLDS,
        default="event",
        help="what a cluster holds: a development with its reactions (event, the default) or one development",
    )
    args = parser.parse_args()
    stories = load()
    by_id = {s["id"]: s for s in stories}
    truth = Truth(stories)
    if args.fit:
        refit(stories, truth, args.lexical, args.fold)
        return
    if args.lexical:
        config = DedupConfig.folding(args.fold, parse_span(args.window))
        clusters, _ = cluster(stories, config, lexical=True)
    else:
        clusters = cluster_with_newsbot(stories, args.window, args.fold)
    events, developments = truth.events, truth.developments
    predicted = pairs(group(clusters))
    result = truth.score(clusters)
    print(
        f"{len(stories)} stories, {len(set(s['development'] for s in stories))} developments, "
        f"{len(set(s['event'] for s in stories))} events; {len(developments)} same-development pairs"
    )
    print(
        f"newsbot dedup: precision {result['precision']:.3f}  recall {result['recall']:.3f}  "
        f"F1 {result['f1']:.3f}  clusters {len(set(clusters.values()))}  merged pairs {len(predicted)}"
    )
    print(f"strict precision (merged pairs of one development): {result['strict_precision']:.3f}")
    for half in truth.halves():
        print(f"  days {', '.join(half)}: {describe(truth.score(clusters, half))}")
    if args.curve:
        for days in (None, *truth.halves()):
            print(f"by join probability, {'all days' if days is None else ', '.join(days)}:")
            curve(stories, truth, DedupConfig.folding(args.fold), days, args.lexical)
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
