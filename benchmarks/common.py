"""Shared benchmark inputs: real stories (title plus a 60-word summary) and real names for watchlists."""

from __future__ import annotations

import json
from pathlib import Path

from bot.jsonl import story_from_json
from bot.model import RuleKind, Story
from bot.watchlist import Rule

ROOT = Path(__file__).resolve().parent.parent
STORY_FILES = [
    ROOT / "tests" / "data" / "stories_2023-11-15.jsonl",
    ROOT / "tests" / "data" / "dedup" / "stories.jsonl",
]


def real_stories(summary_words: int = 60) -> list[Story]:
    """Real headlines, each with a summary of exactly `summary_words` words of real copy.

    Archived summaries are often one sentence; the words of the following stories' summaries fill
    them up to length, so every story costs the matcher what a full feed entry would.
    """
    raw = []
    for path in STORY_FILES:
        if path.exists():
            raw += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    pool = [w for r in raw for w in (r.get("summary") or r["title"]).split()]
    stories, cursor = [], 0
    for i, record in enumerate(raw):
        words = (record.get("summary") or "").split()
        while len(words) < summary_words:
            words.append(pool[cursor % len(pool)])
            cursor += 1
        record = dict(record, id=f"{i}", summary=" ".join(words[:summary_words]))
        stories.append(story_from_json(record))
    return stories


def real_terms() -> list[tuple[str, str]]:
    """(kind, term) pairs: person, organisation and place names from CoNLL-2003, interleaved by kind."""
    by_kind: dict[str, list[str]] = {}
    for line in (ROOT / "benchmarks" / "data" / "terms.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            kind, term = line.split("\t")
            by_kind.setdefault(kind, []).append(term)
    mixed, lists = [], [by_kind["PER"], by_kind["ORG"], by_kind["LOC"]]
    for i in range(max(map(len, lists))):
        for j, items in enumerate(lists):
            if i < len(items) and (j == 0 or i % 2 == 0):  # about half people, as a newsroom tracks
                mixed.append(("PER" if j == 0 else "TOPIC", items[i]))
    return mixed


def watchlist_rules(size: int) -> list[Rule]:
    """A watchlist of `size` terms: people by full name (with surname alias), topics by phrase."""
    rules, terms = [], 0
    for i, (kind, term) in enumerate(real_terms()):
        if terms >= size:
            break
        if kind == "PER":
            surname = term.split()[-1]
            rules.append(Rule(id=f"p{i}", name=term, kind=RuleKind.PERSON, terms=(term,), aliases=(surname,)))
            terms += 2
        else:
            rules.append(Rule(id=f"t{i}", name=term, kind=RuleKind.TOPIC, terms=(term,)))
            terms += 1
    return rules
