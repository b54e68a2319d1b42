"""The rule suggester: names, aliases and key phrases from article text, and recall on the seed articles."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.lexicon import word_zipf
from bot.rulefiles import load_watchlist, render_draft
from bot.suggest import Draft, DraftEntry, suggest
from evaluation import suggest as suggest_eval
from tests.conftest import DATA, RULES

SEEDS = sorted((DATA / "seeds").glob("*.txt"))

# Invented copy in the usual house styles (not from the seeds), for the rules one at a time.
ARTICLE = """\
Chancellor Rachel Reeves has ruled out a wealth tax in the autumn budget.
Speaking in Leeds on Monday, Ms Reeves said the Treasury would not "tax our way to growth".
Shadow Chancellor Mel Stride said the pledge was worthless. "Nobody believes her," Mr Stride added.
Former Bank of England governor Mark Carney's warning on Trump-style tariffs was "sobering", Reeves said.
Despite the row, the Institute for Fiscal Studies said a wealth tax would raise little.
Business leaders want a stable tax regime. The wealth tax debate will return next year, and a
wealth tax remains popular with Labour members, polls suggest.
"""


def _draft(*texts: str) -> Draft:
    return suggest(texts, word_zipf)


def _by_name(entries: tuple[DraftEntry, ...]) -> dict[str, DraftEntry]:
    return {e.name: e for e in entries}


def test_people_get_their_full_name_and_the_short_forms_the_text_uses() -> None:
    people = _by_name(_draft(ARTICLE).people)
    assert people["Rachel Reeves"].terms == ("Ms Reeves", "Reeves")
    assert people["Mel Stride"].terms == ("Mr Stride",)  # "Shadow Chancellor" is a title, stripped
    assert "Mark Carney" in people  # possessive and a title before: still the name alone
    assert not {"Chancellor", "Shadow Chancellor", "Despite", "Business"} & set(people)


def test_organisations_and_places_are_topics_of_their_own() -> None:
    names = _by_name(_draft(ARTICLE).names)
    assert {"Treasury", "Bank of England", "Institute for Fiscal Studies", "Leeds"} <= set(names)
    assert names["Bank of England"].kind == "organisation"
    assert "Monday" not in names and "Trump" in names  # "Trump-style": the name, without "-style"
    assert names["Leeds"].kind == "place"  # "in Leeds"


def test_key_phrases_are_the_recurring_specific_ones() -> None:
    phrases = [e.name for e in _draft(ARTICLE).phrases]
    assert phrases[0] == "wealth tax"
    assert not {"said", "would", "ruled"} & {w for p in phrases for w in p.split()}


def test_emphasis_capitals_make_a_phrase_not_a_name() -> None:
    text = 'He backed "Return Hubs" abroad. The return hubs plan follows Italy. Return hubs cost money.'
    draft = _draft(text)
    assert "return hubs" in [e.name for e in draft.phrases]
    assert all("Hubs" not in e.name for e in draft.people + draft.names)


@pytest.mark.parametrize(
    "text",
    ["", "   \n\n", "12345 67 !!!", "ALL CAPS HEADLINE ONLY", "a\x00b " * 50, "Ünïcödé Ñame said ñothing."],
    ids=["empty", "blank", "numbers", "shouting", "control", "accents"],
)
def test_odd_input_gives_a_valid_draft(text: str, tmp_path: Path) -> None:
    draft = _draft(text)
    path = tmp_path / "draft.yaml"
    path.write_text(render_draft(draft, ["x"]))
    load_watchlist([path])  # raises RuleFileError if the draft would not pass `newsbot check`


def test_ids_are_unique_and_the_draft_passes_the_rule_checks(tmp_path: Path) -> None:
    draft = _draft(*(p.read_text() for p in SEEDS))
    ids = [e.id for e in draft.entries]
    assert len(ids) == len(set(ids))
    path = tmp_path / "draft.yaml"
    text = render_draft(draft, [p.name for p in SEEDS])
    path.write_text(text)
    watchlist = load_watchlist([path])
    assert len(watchlist.people) == len(draft.people) and len(watchlist.topics) == len(draft.entries) - len(
        draft.people
    )
    assert text.startswith("# Draft rules suggested by `newsbot suggest` from 3 articles")
    assert "# person: " in text and "mentions in 3 articles" in text and "PRUNE ME" in text


def test_recall_of_the_default_watchlist_on_the_seed_articles(capsys: pytest.CaptureFixture[str]) -> None:
    _, draft = suggest_eval.suggest_with_newsbot(SEEDS)
    recall = suggest_eval.measure(draft, load_watchlist([RULES]))
    with capsys.disabled():
        print("\n" + suggest_eval.report(recall))
    assert recall.share(recall.people) >= 0.9
    assert recall.share(recall.topics) >= 0.8
