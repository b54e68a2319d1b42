"""The matcher's semantics, table-driven from tests/data/match_cases.yaml, plus explanations and ordering."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.lexicon import common_words
from bot.matching import _WORD_CACHE_LIMIT, Matcher
from bot.model import Field, Story
from bot.rulefiles import load_watchlist
from tests.conftest import DATA

CASES: list[dict[str, Any]] = YAML(typ="safe").load((DATA / "match_cases.yaml").read_text())


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_watchlist([DATA / "match_rules.yaml"]).rules, common_words())


@pytest.mark.parametrize("case", CASES, ids=[c["why"] for c in CASES])
def test_match_cases(matcher: Matcher, case: dict[str, Any]) -> None:
    story = Story(id="s", title=case["title"], summary=case.get("summary", ""))
    assert sorted(m.rule for m in matcher.match(story)) == sorted(case["expect"])


def test_match_explains_rule_term_field_text_and_score(matcher: Matcher) -> None:
    [match] = matcher.match(Story(id="s", title="Keir Stamer speaks"))
    assert (match.rule, match.kind.value, match.term, match.field, match.text) == (
        "keir-starmer",
        "person",
        "Keir Starmer",
        Field.TITLE,
        "Keir Stamer",
    )
    assert 80 <= match.score < 100
    assert "Keir Stamer speaks"[match.start : match.end] == "Keir Stamer"


def test_title_match_ranks_above_summary_match(matcher: Matcher) -> None:
    story = Story(id="s", title="Farage speaks", summary="Keir Starmer replied.")
    assert [m.rule for m in matcher.match(story)] == ["nigel-farage", "keir-starmer"]
    assert [m.field for m in matcher.match(story)] == [Field.TITLE, Field.SUMMARY]


def test_best_evidence_prefers_the_title(matcher: Matcher) -> None:
    [match] = matcher.match(Story(id="s", title="Starmer in Tirana", summary="Keir Starmer met officials."))
    assert match.field is Field.TITLE and match.text == "Starmer"


def test_hostile_input_does_not_crash(matcher: Matcher) -> None:
    junk = "".join(chr(c) for c in range(0, 0x3000, 7)) * 20
    huge = ("Keir Starmer " + "word " * 200_000)[:1_000_000]
    for title, summary in [
        (junk, junk),
        ("", huge),
        ("🚤🚤 مرحبا Farage", "\u202eRTL text\u202c Starmer"),
        ("-*-", ""),
    ]:
        matcher.match(Story(id="s", title=title, summary=summary))
    assert [m.rule for m in matcher.match(Story(id="s", title="", summary=huge))] == ["keir-starmer"]


def test_word_caches_stay_bounded_and_matching_goes_on_after_they_clear() -> None:
    matcher = Matcher(load_watchlist([DATA / "match_rules.yaml"]).rules, common_words())
    words = [f"zq{i}" for i in range(_WORD_CACHE_LIMIT + 5_000)]  # more distinct words than the caches hold
    for i in range(0, len(words), 200):
        matcher.match(Story(id=f"s{i}", title="News", summary=" ".join(words[i : i + 200])))
    assert len(matcher._raw_cache) <= _WORD_CACHE_LIMIT and len(matcher._cache) <= _WORD_CACHE_LIMIT
    found = matcher.match(Story(id="k", title="Keir Starmer visits Kent", summary=" ".join(words[:50])))
    assert [m.rule for m in found] == ["keir-starmer"]
