"""Normalisation and the matcher's invariants, including property-based checks (hypothesis)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import Matcher
from bot.model import RuleKind, Story
from bot.normalize import is_shouting, normalize
from bot.watchlist import Rule


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Starmer’s plan", "starmer plan"),
        ("Farage's", "farage"),
        ("Clarke-Smith", "clarke smith"),
        ("Kémi  Badénoch", "kemi badenoch"),
        ("“Return hubs” — a plan", "return hubs a plan"),
        ("&amp; Rama&#39;s", "rama"),
        ("ＦＵＬＬＷＩＤＴＨ", "fullwidth"),
        ("STRASSE Straße", "strasse strasse"),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_is_shouting() -> None:
    assert is_shouting("SIR KEIR REFUSES TO APOLOGISE")
    assert not is_shouting("Sir Keir refuses to apologise")


words = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu")), min_size=2, max_size=12)
noise = st.text(max_size=60)


def _rule(term: str) -> Rule:
    return Rule(id="r", name=term, kind=RuleKind.TOPIC, terms=(term,))


@settings(max_examples=150, deadline=None)
@given(term=st.lists(words, min_size=1, max_size=3).map(" ".join), before=noise, after=noise)
def test_a_term_matches_a_story_that_contains_it_verbatim(term: str, before: str, after: str) -> None:
    if not normalize(term).replace(" ", ""):
        return
    story = Story(id="s", title=f"{before} {term} {after}")
    assert [m.rule for m in Matcher([_rule(term)]).match(story)] == ["r"]


@settings(max_examples=150, deadline=None)
@given(term=words, text=noise)
def test_case_and_accents_never_change_the_answer(term: str, text: str) -> None:
    matcher = Matcher([_rule(term)])
    story = f"{text} {term}"
    variants = [story.upper(), story.lower(), unicodedata.normalize("NFD", story)]
    expected = bool(matcher.match(Story(id="s", title=story)))
    for variant in variants:
        if normalize(variant) == normalize(story):
            assert bool(matcher.match(Story(id="s", title=variant))) == expected


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_normalize_is_idempotent_and_never_crashes(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
