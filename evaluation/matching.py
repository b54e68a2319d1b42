"""Evaluate the default watchlist on hand-labelled real stories through `newsbot match`.

tests/data/match_eval/stories.jsonl holds real stories, each with `expect`: the rules of rules/ it should
match (labelled by hand), and misspelt copies (`typo_of` names the original) that must match the same.
Prints precision and recall per rule and overall (micro-averaged over story-rule pairs), and the misses.
Run: .venv/bin/python -m evaluation.matching [--rules rules/] [--show]
"""

from __future__ import annotations

import argparse
import io
import json
from collections import Counter
from pathlib import Path

from bot.cli import main as newsbot

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "match_eval" / "stories.jsonl"


def load(path: Path = DATA) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def match_with_newsbot(stories: list[dict[str, object]], rules: str) -> dict[str, list[dict[str, object]]]:
    """Run `newsbot match` on the stories (labels stripped); return story id -> matches."""
    fields = ("id", "title", "summary", "url", "source", "published")
    lines = "\n".join(json.dumps({k: s[k] for k in fields if k in s}) for s in stories)
    out, err = io.StringIO(), io.StringIO()
    code = newsbot(["match", "--rules", rules, "-"], {}, io.StringIO(lines), out, err)
    if code != 0:
        raise SystemExit(f"newsbot match failed ({code}): {err.getvalue()}")
    return {row["id"]: row["matches"] for row in map(json.loads, out.getvalue().splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("--show", action="store_true", help="list every false positive and miss")
    args = parser.parse_args()
    stories = load()
    found = match_with_newsbot(stories, args.rules)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    typo_hits = typo_total = 0
    mistakes = []
    for story in stories:
        expected = set(story["expect"])  # type: ignore[arg-type]
        got = {m["rule"] for m in found[str(story["id"])]}
        for rule in expected & got:
            tp[rule] += 1
        for rule in got - expected:
            fp[rule] += 1
            mistakes.append(("false positive", rule, story))
        for rule in expected - got:
            fn[rule] += 1
            mistakes.append(("missed", rule, story))
        if story.get("typo_of"):
            typo_total += len(expected)
            typo_hits += len(expected & got)
    rules = sorted(set(tp) | set(fp) | set(fn))
    print(
        f"{len(stories)} stories ({sum(1 for s in stories if s.get('typo_of'))} misspelt copies), "
        f"{sum(len(s['expect']) for s in stories)} expected matches"
    )  # type: ignore[arg-type]
    print(f"{'rule':42} {'precision':>9} {'recall':>7} {'tp':>5} {'fp':>4} {'fn':>4}")
    for rule in rules:
        p = tp[rule] / (tp[rule] + fp[rule]) if tp[rule] + fp[rule] else 1.0
        r = tp[rule] / (tp[rule] + fn[rule]) if tp[rule] + fn[rule] else 1.0
        print(f"{rule:42} {p:>9.3f} {r:>7.3f} {tp[rule]:>5} {fp[rule]:>4} {fn[rule]:>4}")
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    precision = total_tp / (total_tp + total_fp) if total_tp + total_fp else 1.0
    recall = total_tp / (total_tp + total_fn) if total_tp + total_fn else 1.0
    print(f"{'overall':42} {precision:>9.3f} {recall:>7.3f} {total_tp:>5} {total_fp:>4} {total_fn:>4}")
    if typo_total:
        print(
            f"misspelt copies: {typo_hits}/{typo_total} expected matches found ({typo_hits / typo_total:.3f})"
        )
    if args.show:
        for kind, rule, story in mistakes:
            print(f"\n{kind}: {rule}\n  {story['title']}\n  {str(story.get('summary', ''))[:200]}")


if __name__ == "__main__":
    main()
