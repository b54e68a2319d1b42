"""English word frequencies from wordfreq's bundled data: the common words the matcher never reads as typos of
a name, and how common a word is, which the rule suggester weighs words by."""

from __future__ import annotations

from functools import lru_cache

from wordfreq import get_frequency_dict, get_frequency_list, zipf_frequency

from bot.matching import build_lexicon

# Zipf 3.0 is once per million words: "garage" (4.3), "philip" (4.3) and "drama" (4.7) are above it,
# while typos seen in real copy ("stamer", "badenoh", "zelenksy") are far below.
COMMON_ZIPF = 3.0


@lru_cache(maxsize=1)
def common_words(zipf: float = COMMON_ZIPF) -> frozenset[str]:
    """Return English words at least as frequent as `zipf`, folded for the matcher."""
    per_word = 10 ** (zipf - 9)  # zipf is log10 of frequency per billion words
    lexicon = build_lexicon(w for w, f in get_frequency_dict("en").items() if f >= per_word)
    # wordfreq keeps the whole word list, twice, for the life of the process (some 23 MB of RSS); the
    # lexicon is all the matcher needs. `word_zipf` (rule suggestions) loads the list again if called.
    get_frequency_dict.cache_clear()
    get_frequency_list.cache_clear()
    return lexicon


@lru_cache(maxsize=200_000)
def word_zipf(word: str) -> float:
    """Return a folded word's Zipf frequency in English (0 for words wordfreq does not know)."""
    return float(zipf_frequency(word, "en"))
