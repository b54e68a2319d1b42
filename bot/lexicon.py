"""The common words of English, from wordfreq's bundled data: words the matcher never reads as typos of a name."""

from __future__ import annotations

from functools import lru_cache

from wordfreq import get_frequency_dict

from bot.matching import build_lexicon

# Zipf 3.0 is once per million words: "garage" (4.3), "philip" (4.3) and "drama" (4.7) are above it,
# while typos seen in real copy ("stamer", "badenoh", "zelenksy") are far below.
COMMON_ZIPF = 3.0


@lru_cache(maxsize=1)
def common_words(zipf: float = COMMON_ZIPF) -> frozenset[str]:
    """Return English words at least as frequent as `zipf`, folded for the matcher."""
    per_word = 10 ** (zipf - 9)  # zipf is log10 of frequency per billion words
    return build_lexicon(w for w, f in get_frequency_dict("en").items() if f >= per_word)
