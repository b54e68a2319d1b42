"""Measure how much of the default watchlist `newsbot suggest` recovers from the seed articles.

The draft is written by `newsbot suggest` and read back with the rule-file loader (so it also passes
`newsbot check`). Then, with the project's own Matcher:
- a default person is recovered when one of the draft's people has a name or alias that the person's rule
  matches (a story whose headline is that form);
- a default topic is recovered when one of the draft's topics (an organisation, place or key phrase) has a
  term that supplies the topic's defining evidence: the topic rule matches a story whose headline is that
  term and whose summary lists the rest of the draft (its people, names and phrases: the context an
  operator's rules would have), and the match's evidence is in the headline, i.e. the term itself is one of
  the topic's `terms` or, for a topic made only of `all` groups, of its first group (the subject; the
  other groups, such as the UK markers, may come from the context).
The stricter figure "alone" asks the same of a story made of the term and nothing else.
Run: .venv/bin/python -m evaluation.suggest [--rules rules/] [FILE...]
"""

from __future__ import annotations

import argparse
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.cli import main as newsbot
from bot.lexicon import common_words
from bot.matching import Matcher
from bot.model import Field, Story
from bot.rulefiles import load_watchlist
from bot.watchlist import Rule, Watchlist

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "tests" / "data" / "seeds").glob("*.txt"))


@dataclass(frozen=True)
class Recall:
    people: dict[str, str | None]  # default person id -> the draft form that recovers it, or None
    topics: dict[str, str | None]
    topics_alone: dict[str, str | None]

    @staticmethod
    def share(found: dict[str, str | None]) -> float:
        return sum(1 for v in found.values() if v) / len(found) if found else 0.0


def suggest_with_newsbot(files: list[Path]) -> tuple[str, Watchlist]:
    """Run `newsbot suggest` on the files; return the draft text and the draft read back as rules."""
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        draft = Path(tmp) / "draft.yaml"
        code = newsbot(["suggest", *map(str, files), "--out", str(draft)], {}, io.StringIO(), out, err)
        if code != 0:
            raise SystemExit(f"newsbot suggest failed ({code}): {err.getvalue()}")
        return draft.read_text(), load_watchlist([draft])


def measure(draft: Watchlist, default: Watchlist) -> Recall:
    """Which default people and topics the draft recovers (see the module docstring)."""
    lexicon = common_words()
    people = Matcher(default.people, lexicon)
    topics = Matcher(default.topics, lexicon)
    context = ". ".join(_forms(r) for r in draft.rules)
    found_people: dict[str, str | None] = {r.id: None for r in default.people}
    found_topics: dict[str, str | None] = {r.id: None for r in default.topics}
    alone: dict[str, str | None] = {r.id: None for r in default.topics}
    for rule in draft.people:
        for form in (rule.name, *rule.aliases):
            for rule_id in _headline_matches(people, form, context):
                found_people[rule_id] = found_people[rule_id] or form
    for rule in draft.topics:
        for term in rule.terms:
            for rule_id in _headline_matches(topics, term, context):
                found_topics[rule_id] = found_topics[rule_id] or term
            for rule_id in _headline_matches(topics, term, ""):
                alone[rule_id] = alone[rule_id] or term
    return Recall(found_people, found_topics, alone)


def _forms(rule: Rule) -> str:
    return ". ".join((rule.name, *rule.terms, *rule.aliases))


def _headline_matches(matcher: Matcher, headline: str, summary: str) -> list[str]:
    story = Story(id="probe", title=headline, summary=summary)
    return [m.rule for m in matcher.match(story) if m.field is Field.TITLE]


def report(recall: Recall) -> str:
    lines = []
    for label, found in (("people", recall.people), ("topics", recall.topics)):
        hits = sum(1 for v in found.values() if v)
        lines.append(f"{label}: {hits}/{len(found)} recovered, recall {recall.share(found):.2f}")
        for rule_id, form in found.items():
            lines.append(f"  {'+' if form else '-'} {rule_id:32} {form or 'not recovered'}")
    hits = sum(1 for v in recall.topics_alone.values() if v)
    lines.append(
        f"topics from a term alone (no context): {hits}/{len(recall.topics_alone)}, "
        f"recall {recall.share(recall.topics_alone):.2f}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("files", nargs="*", type=Path, default=SEEDS)
    args = parser.parse_args()
    _, draft = suggest_with_newsbot(args.files)
    print(f"{len(args.files)} articles; draft: {len(draft.people)} people, {len(draft.topics)} topics")
    print(report(measure(draft, load_watchlist([args.rules]))))


if __name__ == "__main__":
    main()
