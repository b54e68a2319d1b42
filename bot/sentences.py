"""Split article text into sentences of words that remember their case and what separates them.

Used by the rule suggester (`bot.entities`, `bot.keyphrases`). Semantics:
- Lines are units of their own (headlines, captions and crossheads carry no full stop); within a line a
  sentence ends at `.`, `!`, `?` or `…` followed by space. Lines in capitals throughout ("KEIR: I'M NO
  QUITTER") are dropped: case says nothing there.
- A word is a run of letters and digits with inner hyphens and apostrophes ("Stoke-on-Trent", "U-turn",
  "O'Neill"). A possessive `'s` or a trailing `'` is cut off and marks the word as possessive. A capitalised
  word with a lowercase hyphenated tail ("Trump-style", "Labour-run") keeps only the capitalised head and is
  marked as an end of a name.
- A word in capitals is an acronym ("ECHR", "UK") unless it is hyphenated, longer than six letters, or a
  common word of four letters or more ("MORE crimes"): that is emphasis, read as lowercase.
- A word is "initial" when its capital may come from its position: first in the sentence, or after an
  opening quote, a colon or a dash. A sentence-initial word in capitals before a capitalised word ("SIR
  Keir") reads as capitalised.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.normalize import fold_word, is_shouting, prepare

Frequency = Callable[[str], float]  # Zipf frequency of a folded word (0 when unknown)
COMMON_ZIPF = 3.5

# Function words, and the commonest verbs and adverbs of news copy: they never start a name or make a phrase.
STOPWORDS = frozenset(
    """a about above across after again against all almost along already also although always am among an
    and another any anyone anything are around as at be became because become been before being below
    between both but by can cannot could did do does doing done down during each either else enough even
    ever every everyone everything few for from further had has have having he her here hers herself him
    himself his how however i if in into is it its itself just last least less let like made make makes
    making many may me meanwhile might more most much must my myself near neither never next no nor not
    nothing now of off often on once one only onto or other others otherwise our ours ourselves out over own
    per perhaps quite rather really said same say saying says see seen she should since so some something
    soon still such than that the their theirs them themselves then there these they this those though
    through throughout thus till to today together told too tomorrow toward towards under unless until up
    upon us very via was we well were what whatever when whenever where whereas whether which while who
    whoever whole whom whose why will with within without would yet yesterday you your yours yourself
    yourselves despite instead also added asked told says get gets got go goes going went gone come comes
    came take takes took taken give gives gave given put puts keep keeps kept want wants wanted need needs
    needed know knows knew think thinks thought tell tells telling ask asks call called calls try tried
    way ways thing things lot lots yes oh behind ago amid""".split()
)

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*(?:['’][sS](?![^\W_])|['’](?![^\W_]))?")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)\]]*\s+")
_OPENERS = set("“\"‘'(:—–-[")


class Shape(enum.Enum):
    CAP = "cap"  # Titlecase: Starmer, McDonald, Stoke-on-Trent
    ACRONYM = "acronym"  # ECHR, UK, BBC
    LOWER = "lower"
    NUMBER = "number"


HONORIFICS = frozenset("mr mrs ms miss mx sir dame lord lady dr prof professor rev reverend".split())
TITLES = HONORIFICS | frozenset(
    """minister secretary president premier chancellor pm mp mep msp leader chief prosecutor
    king queen prince princess pope judge justice senator governor mayor general captain commissioner
    ambassador spokesman spokeswoman spokesperson chairman chairwoman chair director presenter reporter
    editor correspondent officer inspector sergeant constable commander colonel admiral archbishop bishop
    cardinal sheikh emir ayatollah attorney speaker whip baroness baron viscount duke duchess
    earl countess""".split()
)

# Words that mark the word after them as a verb in this text ("to extradite", "would commit", "he added").
VERB_MARKERS = frozenset(
    "to will would can could should must might shall did does not he she they we i".split()
)


@dataclass(frozen=True, slots=True)
class Word:
    text: str  # as written, without a possessive
    norm: str  # folded, hyphens as spaces
    shape: Shape
    initial: bool = False  # its capital may come from its position in the sentence
    joined: bool = True  # only spaces separate it from the word before
    possessive: bool = False
    ends_name: bool = False  # a hyphenated tail ("-style") followed it


def read_sentences(text: str, frequency: Frequency) -> Iterator[list[Word]]:
    """Yield the sentences of a text as lists of words; `frequency` tells emphasis from acronyms."""
    for line in prepare(text).splitlines():
        if not line.strip() or is_shouting(line) or _is_title_case(line):
            continue
        for sentence in _SENTENCE_END.split(line):
            words = list(_words(sentence, frequency))
            if words:
                yield words


def _is_title_case(line: str) -> bool:
    """A headline or crosshead In Title Case ("Read More On The Sun"): its capitals say nothing either."""
    words = [m.group() for m in _WORD.finditer(line)]
    if len(words) < 4 or line.rstrip().endswith((".", "!", "?", "”", '"')):
        return False
    capitalised = sum(1 for w in words if w[0].isupper() or w[0].isdigit())
    return capitalised >= 0.75 * len(words)


def _words(sentence: str, frequency: Frequency) -> Iterator[Word]:
    last_end = 0
    first = True
    matches = list(_WORD.finditer(sentence))
    for i, m in enumerate(matches):
        gap = sentence[last_end : m.start()]
        last_end = m.end()
        raw = m.group()
        possessive = raw.endswith(("'s", "’s", "'S", "’S", "'", "’"))
        if possessive:
            raw = raw[:-2] if raw[-1] in "sS" else raw[:-1]
        raw, ends_name = _cut_tail(raw)
        if not raw:
            continue
        initial = first or bool(_OPENERS & set(gap))
        shape = _shape(raw)
        if shape is Shape.ACRONYM and initial and i + 1 < len(matches):
            if _shape(matches[i + 1].group()) is Shape.CAP and frequency(fold_word(raw)) >= 5.0:
                raw, shape = raw.capitalize(), Shape.CAP
        if shape is Shape.ACRONYM and (
            "-" in raw or len(raw) > 6 or len(raw) > 3 and frequency(fold_word(raw)) >= 3.0
        ):
            shape = Shape.LOWER  # emphasis ("MORE crimes", "STOKE-ON-TRENT, ENGLAND"), not an acronym
        yield Word(
            raw,
            " ".join(fold_word(p) for p in re.split(r"[-'’]", raw) if p),
            shape,
            initial=initial,
            joined=first or gap.strip() == "",
            possessive=possessive,
            ends_name=ends_name,
        )
        first = False


def _cut_tail(raw: str) -> tuple[str, bool]:
    """Cut a lowercase hyphenated tail off a capitalised head: "Trump-style" -> "Trump"."""
    parts = raw.split("-")
    if len(parts) > 1 and parts[0][:1].isupper() and parts[-1][:1].islower():
        head = []
        for part in parts:
            if part[:1].islower():
                break
            head.append(part)
        return "-".join(head), True
    return raw, False


def _shape(raw: str) -> Shape:
    letters = [c for c in raw if c.isalpha()]
    if not letters:
        return Shape.NUMBER
    if any(c.isdigit() for c in raw):
        return Shape.NUMBER
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return Shape.ACRONYM
    if raw[0].isupper():
        return Shape.CAP
    return Shape.LOWER
