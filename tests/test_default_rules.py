"""The shipped watchlist catches the seed articles' people and topics, and not unrelated real stories."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.lexicon import common_words
from bot.matching import Matcher
from bot.model import Story
from bot.rulefiles import load_watchlist
from tests.conftest import DATA, RULES

SEEDS = DATA / "seeds"
EXPECT: dict[str, Any] = YAML(typ="safe").load((DATA / "seed_expectations.yaml").read_text())
UNRELATED = [json.loads(line) for line in (DATA / "unrelated_stories.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_watchlist([RULES]).rules, common_words())


def seed_story(name: str) -> Story:
    """A seed article as a feed would carry it: the first line as title, the rest as summary."""
    title, _, body = (SEEDS / name).read_text().partition("\n")
    return Story(id=name, title=title.strip(), summary=" ".join(body.split()))


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_seed_article_matches_its_people_and_topics(matcher: Matcher, name: str) -> None:
    found = {m.rule for m in matcher.match(seed_story(name))}
    expected = EXPECT[name]
    assert set(expected["must_match"]) <= found, f"missing {set(expected['must_match']) - found}"
    assert not set(expected.get("must_not_match", [])) & found


@pytest.mark.parametrize("story", UNRELATED, ids=[s["id"] for s in UNRELATED])
def test_unrelated_real_story_matches_nothing(matcher: Matcher, story: dict[str, str]) -> None:
    matches = matcher.match(Story(id=story["id"], title=story["title"], summary=story.get("summary", "")))
    assert [(m.rule, m.text) for m in matches] == []


def test_every_default_rule_is_reachable_from_a_seed(matcher: Matcher) -> None:
    watchlist = load_watchlist([RULES])
    expected = {rule for seed in EXPECT.values() for rule in seed["must_match"]}
    assert expected <= {r.id for r in watchlist.rules}
