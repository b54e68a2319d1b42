"""Quality floors on the hand-labelled evaluation sets, measured through the public JSONL commands."""

from __future__ import annotations

from collections import Counter

from evaluation import dedup as dedup_eval
from evaluation import matching as matching_eval
from tests.conftest import RULES


def test_default_rules_meet_the_matching_targets() -> None:
    stories = matching_eval.load()
    found = matching_eval.match_with_newsbot(stories, str(RULES))
    counts: Counter[str] = Counter()
    for story in stories:
        expected = set(story["expect"])  # type: ignore[arg-type]
        got = {m["rule"] for m in found[str(story["id"])]}
        counts["tp"] += len(expected & got)
        counts["fp"] += len(got - expected)
        counts["fn"] += len(expected - got)
    precision = counts["tp"] / (counts["tp"] + counts["fp"])
    recall = counts["tp"] / (counts["tp"] + counts["fn"])
    assert len(stories) >= 300
    assert precision >= 0.97 and recall >= 0.95, (precision, recall)


def test_clusterer_keeps_precision_on_the_labelled_set() -> None:
    stories = dedup_eval.load()
    clusters = dedup_eval.cluster_with_newsbot(stories, "48h")
    events = dedup_eval.pairs(dedup_eval.group({s["id"]: s["event"] for s in stories}))
    developments = dedup_eval.pairs(dedup_eval.group({s["id"]: s["development"] for s in stories}))
    result = dedup_eval.score(dedup_eval.pairs(dedup_eval.group(clusters)), events, developments)
    assert len(stories) >= 500
    assert result["precision"] >= 0.97
    assert result["recall"] >= 0.85  # measured 0.856 (the issue asks 0.85)


def test_words_alone_keep_precision_on_the_labelled_set() -> None:
    """The fallback model, for an index without text embeddings, holds its own figures."""
    stories = dedup_eval.load()
    truth = dedup_eval.Truth(stories)
    clusters, _ = dedup_eval.cluster(stories, dedup_eval.DedupConfig(), lexical=True)
    result = truth.score(clusters)
    assert result["precision"] >= 0.97
    assert result["recall"] >= 0.85  # measured 0.864


def test_folding_developments_keeps_reactions_apart_on_the_labelled_set() -> None:
    """NEWSBOT_DEDUP_FOLD=development: merged pairs are far more often one development than when folding
    events, at the same precision floor."""
    stories = dedup_eval.load()
    truth = dedup_eval.Truth(stories)
    events = truth.score(dedup_eval.cluster_with_newsbot(stories, "48h"))
    developments = truth.score(dedup_eval.cluster_with_newsbot(stories, "48h", "development"))
    assert developments["precision"] >= 0.97 and developments["recall"] >= 0.6  # measured 0.995, 0.617
    assert developments["strict_precision"] >= 0.55 > events["strict_precision"]  # measured 0.575, 0.277
