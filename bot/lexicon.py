"""English word frequencies from wordfreq's bundled data: the common words the matcher never reads as typos of
a name, and how common a word is, which the rule suggester weighs words by."""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import msgpack

from bot.matching import build_lexicon

# Zipf 3.0 is once per million words: "garage" (4.3), "philip" (4.3) and "drama" (4.7) are above it,
# while typos seen in real copy ("stamer", "badenoh", "zelenksy") are far below.
COMMON_ZIPF = 3.0
# The list wordfreq's get_frequency_dict("en") reads (its "best" English list is the large one).
_ENGLISH = "data/large_en.msgpack.gz"


@lru_cache(maxsize=1)
def common_words(zipf: float = COMMON_ZIPF) -> frozenset[str]:
    """Return English words at least as frequent as `zipf`, folded for the matcher."""
    per_word = 10 ** (zipf - 9)  # zipf is log10 of frequency per billion words
    return build_lexicon(_frequent_words(per_word))


def _frequent_words(per_word: float) -> Iterator[str]:
    """Yield the words of wordfreq's English list with a frequency of at least `per_word`.

    The file is read here rather than through `wordfreq.get_frequency_dict`: importing wordfreq loads ftfy,
    regex and langcodes (6 MB of RSS for good), and the dict holds all 320,000 words where the matcher
    needs 30,000. Its format ("cBpack", documented in `wordfreq.read_cBpack`): a gzipped msgpack list of a
    header, then lists of words, the nth at a frequency of 10 ** (-n / 100), most frequent first; it is
    streamed and left at the cutoff.
    """
    spec = importlib.util.find_spec("wordfreq")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the wordfreq package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / _ENGLISH
    with gzip.open(path, "rb") as data:
        unpacker = msgpack.Unpacker(data, raw=False)
        buckets = unpacker.read_array_header() - 1
        header = unpacker.unpack()
        if not isinstance(header, dict) or header.get("format") != "cB" or header.get("version") != 1:
            raise ValueError(f"lexicon: {path} is not in the cBpack format this newsbot reads ({header!r})")
        for index in range(buckets):
            if 10 ** (-index / 100) < per_word:  # as wordfreq's cB_to_freq computes it
                return
            for _ in range(unpacker.read_array_header()):
                yield unpacker.unpack()


@lru_cache(maxsize=200_000)
def word_zipf(word: str) -> float:
    """Return a folded word's Zipf frequency in English (0 for words wordfreq does not know)."""
    # Imported on first use: only the rule suggester (`newsbot suggest`, articles sent to the bot) needs it.
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))
