"""The lexicon read straight from wordfreq's data file is exactly what wordfreq's own API gives."""

from __future__ import annotations

import pytest
from wordfreq import get_frequency_dict

from bot.lexicon import common_words, word_zipf
from bot.matching import build_lexicon


@pytest.mark.parametrize("zipf", [3.0, 4.5], ids=["default", "stricter"])
def test_common_words_are_wordfreqs(zipf: float) -> None:
    per_word = 10 ** (zipf - 9)
    expected = build_lexicon(w for w, f in get_frequency_dict("en").items() if f >= per_word)
    assert common_words(zipf) == expected


def test_common_words_hold_common_words_not_typos() -> None:
    assert {"garage", "philip", "drama"} <= common_words()
    assert not {"stamer", "badenoh", "zelenksy"} & common_words()


def test_word_zipf() -> None:
    assert word_zipf("the") > 7 > word_zipf("garage") > 4 > word_zipf("zelenksy") == 0
