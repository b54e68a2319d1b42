"""Text normalisation and tokenising, shared by matching and dedup.

Semantics (DESIGN.md): Unicode NFKC, HTML entities decoded, case-folded, accents stripped, curly quotes and
dashes treated like their ASCII forms, punctuation and hyphens as word breaks, a possessive 's dropped
("Starmer's" -> "starmer", "Farage’s" -> "farage"). A token keeps its span in the NFKC text so that a match
can quote the words it found, and whether it was capitalised, which the matcher uses to tell names from
ordinary words.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Letters and digits make words; everything else (hyphens, dashes, quotes, punctuation, emoji) breaks them.
# A possessive 's is taken with its word so that it can be dropped ("Starmer's" -> "starmer").
WORD = re.compile(r"[^\W_]+(?:['’ʼ`´‘][sS](?![^\W_]))?")
_POSSESSIVE = re.compile(r"['’ʼ`´‘][sS]$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Token:
    """A word of a text: its normal form, where it stands, and whether it began with a capital."""

    norm: str
    start: int
    end: int
    capitalised: bool


def prepare(text: str) -> str:
    """Return the text NFKC-normalised with HTML entities decoded; spans of tokens refer to this string."""
    if "&" in text:
        text = html.unescape(text)
    if not text.isprintable():
        text = _CONTROL.sub(" ", text)
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def fold(word: str) -> str:
    """Case-fold a word and strip its accents ("Zelenskyy" -> "zelenskyy", "Rāma" -> "rama")."""
    folded = word.casefold()
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFD", folded)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


# News repeats its words: stories' words go through the cache; word lists read once (the lexicon) do not.
fold_word = lru_cache(maxsize=200_000)(fold)


def bare(word: str) -> str:
    """Return a raw word without its possessive 's."""
    return word[:-2] if len(word) > 2 and _POSSESSIVE.search(word) else word


def tokenize(text: str) -> list[Token]:
    """Split prepared text into tokens, dropping the `s` of a possessive `'s`."""
    tokens = []
    for m in WORD.finditer(text):
        word = bare(m.group())
        tokens.append(Token(fold_word(word), m.start(), m.start() + len(word), word[0].isupper()))
    return tokens


def normalize(text: str) -> str:
    """Return the normal form of a text: its tokens joined by single spaces."""
    return " ".join(t.norm for t in tokenize(prepare(text)))


def words(text: str) -> list[str]:
    """Return the normalised words of a text."""
    return [t.norm for t in tokenize(prepare(text))]


def is_shouting(text: str) -> bool:
    """Tell whether a text is (mostly) in capitals, as some headlines are; case then says nothing."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 4:
        return False
    upper = sum(1 for c in letters if c.isupper())
    return upper >= 0.6 * len(letters)
