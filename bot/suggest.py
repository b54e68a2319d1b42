"""Suggest a draft watchlist from example articles: the people, organisations, places and key phrases they name.

The draft is made of rules an operator prunes: each person becomes a `people` entry (the full name, with the
short forms the text itself uses as aliases, titles stripped); each organisation or place, and each key
phrase, a `topics` entry of its own. Entries carry how often the articles named them, and come heaviest
first (mentions, and half as much again for each further article that names them). How names and phrases
are found: `bot.entities` and `bot.keyphrases`. Every entry passes the rule-file checks: ids are unique
slugs, and terms that `watchlist.check_term` refuses are left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.entities import Entity, Kind, find_entities
from bot.keyphrases import KeyPhrase, find_keyphrases
from bot.normalize import words
from bot.sentences import Frequency, read_sentences
from bot.watchlist import check_term

MAX_PEOPLE = 25
MAX_NAMES = 25
MAX_PHRASES = 30
ARTICLE_BONUS = 0.5
COMMON_ALIAS_ZIPF = 4.3  # "heaven" 4.6, "trump" 4.9: an alias this common needs context
_ID_CHARS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class DraftEntry:
    """One suggested rule: a person, or a topic made of a name or a key phrase."""

    id: str
    name: str
    kind: str  # person | organisation | place | name | phrase
    terms: tuple[str, ...]  # a person's aliases; a topic's terms (the name first)
    count: int
    articles: int
    weight: float
    forms: tuple[tuple[str, int], ...] = ()  # how the text wrote it, with counts
    common_aliases: tuple[str, ...] = ()  # aliases that are ordinary words too ("Heaven", "May")


@dataclass(frozen=True, slots=True)
class Draft:
    people: tuple[DraftEntry, ...]
    names: tuple[DraftEntry, ...]  # organisations and places
    phrases: tuple[DraftEntry, ...]
    articles: int

    @property
    def entries(self) -> tuple[DraftEntry, ...]:
        return self.people + self.names + self.phrases


def suggest(texts: Sequence[str], frequency: Frequency) -> Draft:
    """Read example articles (plain text) and suggest the rules that would follow what they are about."""
    articles = [list(read_sentences(text, frequency)) for text in texts]
    if not any(articles):
        return Draft((), (), (), len(texts))
    entities = find_entities(articles, frequency)
    phrases = find_keyphrases(articles, frequency, MAX_PHRASES)
    ids: set[str] = set()
    people = [_person(e, ids, frequency) for e in _heaviest(entities, True)[:MAX_PEOPLE]]
    names = [_name(e, ids) for e in _heaviest(entities, False)[:MAX_NAMES]]
    return Draft(
        people=tuple(p for p in people if p is not None),
        names=tuple(n for n in names if n is not None),
        phrases=tuple(p for p in (_phrase(k, ids) for k in phrases) if p is not None),
        articles=len(texts),
    )


def _weight(entity: Entity) -> float:
    return round(entity.count * (1 + ARTICLE_BONUS * (entity.articles - 1)), 1)


def _heaviest(entities: list[Entity], people: bool) -> list[Entity]:
    chosen = [e for e in entities if (e.kind is Kind.PERSON) == people]
    return sorted(chosen, key=lambda e: (-_weight(e), e.name))


def _valid_terms(terms: Sequence[str]) -> tuple[str, ...]:
    kept: list[str] = []
    for term in terms:
        try:
            kept.append(check_term(term))
        except ValueError:
            continue
    return tuple(dict.fromkeys(kept))


def _person(entity: Entity, ids: set[str], frequency: Frequency) -> DraftEntry | None:
    if not _valid_terms([entity.name]):
        return None
    aliases = _valid_terms(entity.aliases)
    common = tuple(a for a in aliases if len(words(a)) == 1 and frequency(words(a)[0]) >= COMMON_ALIAS_ZIPF)
    return DraftEntry(
        id=_unique_id(entity.name, "person", ids),
        name=entity.name,
        kind="person",
        terms=aliases,
        count=entity.count,
        articles=entity.articles,
        weight=_weight(entity),
        forms=entity.forms,
        common_aliases=common,
    )


def _name(entity: Entity, ids: set[str]) -> DraftEntry | None:
    terms = _valid_terms([entity.name, *entity.aliases])
    if not terms:
        return None
    return DraftEntry(
        id=_unique_id(entity.name, entity.kind.value, ids),
        name=entity.name,
        kind=entity.kind.value,
        terms=terms,
        count=entity.count,
        articles=entity.articles,
        weight=_weight(entity),
        forms=entity.forms,
    )


def _phrase(phrase: KeyPhrase, ids: set[str]) -> DraftEntry | None:
    terms = _valid_terms(phrase.forms)
    if not terms:
        return None
    return DraftEntry(
        id=_unique_id(phrase.phrase, "phrase", ids),
        name=phrase.phrase,
        kind="phrase",
        terms=terms,
        count=phrase.count,
        articles=phrase.articles,
        weight=phrase.weight,
    )


def _unique_id(name: str, kind: str, ids: set[str]) -> str:
    """A rule id from the name's words (`keir-starmer`), made unique with a number."""
    base = _ID_CHARS.sub("-", "-".join(words(name))).strip("-")[:70] or kind
    candidate, n = base, 2
    while candidate in ids:
        candidate, n = f"{base}-{n}", n + 1
    ids.add(candidate)
    return candidate
