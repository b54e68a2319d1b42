"""Find the people, organisations and places an article names, from capitalisation and the words around.

No trained model: names are runs of capitalised words (`bot.sentences`), read with these rules, in order:
1. A run may hold `of`, `for`, `on`, `de`, `van`... between capitalised words ("Office for National
   Statistics", "European Convention on Human Rights") and a number after one ("Article 3", "No 10"). A
   possessive or a "-style" tail ends it ("Nigel Farage's Reform UK" is two names). Months and weekdays next
   to a number, and weekdays ending a run ("Leeds on Monday"), are dates, not names; a leading "The" is
   dropped.
2. A capitalised word that may owe its capital to its position (first in a sentence, after a quote) and is
   a common word of the language is dropped when it stands alone ("Despite") or before a name of more
   than one word or an organisation ("Former Bank of England"), but kept before a single word ("Tony
   Abbott", "Mark Jenkinson"), and always kept when the text also capitalises it mid-sentence ("Britain").
3. Titles and roles are cut off: everything up to the last title word of a run ("Shadow Home Secretary
   Chris Philp", "Albanian PM Edi Rama", "Sir Keir") is a role, the rest the name, and the role is evidence
   of a person. So is a lowercase occupation just before ("presenter Matt Chorley", "heroin dealer Akiva
   Heaven") and a speech verb just after ("Suella Braverman said").
4. A run made only of common words that the text also writes in lowercase ("Return Hubs") is a phrase.
5. A run with an organisation word ("Office", "Party", "Court", "News") is an organisation, and with a place
   word ("River", "Street", "North") a place; so is an acronym. Otherwise two to four capitalised words are a
   person's name, as is anything with a title; a single word is an organisation or place unless a title or
   speech verb says it is a person.
6. A single word or a shorter form that ends or begins a person's full name ("Starmer", "Sir Keir", "Clarke
   Smith") is that person, and its forms become aliases; when two people share it, the one named more often.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.normalize import words as normal_words
from bot.sentences import COMMON_ZIPF, HONORIFICS, STOPWORDS, TITLES, Frequency, Shape, Word

OCCUPATIONS = frozenset(
    """dealer attacker killer lawyer barrister solicitor activist campaigner businessman businesswoman
    billionaire tycoon footballer striker player manager coach singer actor actress author writer journalist
    broadcaster comedian host star rapper designer chef doctor surgeon nurse scientist economist historian
    analyst soldier pilot founder boss owner entrepreneur investor candidate councillor backbencher peer
    rebel deputy colleague predecessor successor ally rival critic victim suspect offender rapist murderer
    teenager mother father wife husband son daughter brother sister partner pensioner widow priest imam
    rabbi envoy diplomat tsar adviser advisor aide strategist pollster veteran""".split()
)
OCCUPATION_ENDINGS = ("er", "ist", "ian")
ORGANISATION_WORDS = frozenset(
    """office party court council ministry department commission union news club bank university police
    service government agency times radio images group association institute committee force army navy
    foundation trust fund company corporation ltd plc inc league federation network tv post herald
    telegraph guardian mail express mirror journal press board authority assembly parliament senate
    congress convention act bill tribunal charity centre center college school hospital museum church
    airways airlines unit brigade fc organisation organization alliance coalition movement front
    institution observatory watch bureau cabinet treasury commons lords home""".split()
)
PLACE_WORDS = frozenset(
    """river street road avenue lane square island islands sea ocean lake mount mountain mountains valley
    bay county city town village province region republic kingdom coast strait gulf peninsula park bridge
    airport station north south east west northern southern eastern western middle central greater""".split()
)
PLACE_PREPOSITIONS = frozenset("in to from at across near into towards outside inside via".split())
SPEECH_VERBS = frozenset(
    """said says added told insisted warned responded questioned slammed raged boasted claimed argued
    admitted replied vowed blasted urged asked wrote tweeted announced explained stated declared suggested
    revealed confirmed denied accused praised criticised hailed pledged promised""".split()
)
CONNECTORS = frozenset("of for on the de la le du da van von der den al bin del y".split())
CALENDAR = frozenset(
    """january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday""".split()
)
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
DEMONYM_ENDINGS = ("an", "ian", "ish", "ese", "ean", "i")
NOT_IN_NAMES = frozenset("of for on the and".split())  # "Match of the Day" is no one's name
COMMON_ALIAS_ZIPF = 4.3  # a first name or single word at least this common ("mark", "lee") is no alias
COUNTRY_ACRONYMS = frozenset("uk us usa uae eu un".split())


class Kind(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    PLACE = "place"
    NAME = "name"  # a proper name of no clear kind


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    kind: Kind
    count: int
    aliases: tuple[str, ...] = ()
    forms: tuple[tuple[str, int], ...] = ()  # every form seen, with its count, most frequent first
    articles: int = 1


@dataclass(slots=True)
class _Tally:
    forms: Counter[str] = field(default_factory=Counter)
    norms: Counter[tuple[str, ...]] = field(default_factory=Counter)
    honorific: int = 0
    role: int = 0
    speech: int = 0
    place_prep: int = 0
    articles: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Mention:
    words: tuple[Word, ...]
    honorific: str = ""  # "Sir" in "Sir Keir"
    role: bool = False
    speech: bool = False
    place_prep: bool = False


def find_entities(articles: Sequence[Sequence[list[Word]]], frequency: Frequency) -> list[Entity]:
    """Return the names the articles mention, each with its kind, forms and count, most mentioned first."""
    mid_capitals = {n for sentences in articles for s in sentences for n in _capitals_mid(s)}
    lowercase = {w.norm for sentences in articles for s in sentences for w in s if w.shape is Shape.LOWER}
    tallies: dict[tuple[str, ...], _Tally] = defaultdict(_Tally)
    for index, sentences in enumerate(articles):
        for sentence in sentences:
            for mention in _mentions(sentence, frequency, mid_capitals, lowercase):
                key = tuple(w.norm for w in mention.words)
                tally = tallies[key]
                form = " ".join(w.text for w in mention.words)
                tally.forms[f"{mention.honorific} {form}" if mention.honorific else form] += 1
                tally.norms[key] += 1
                tally.honorific += bool(mention.honorific)
                tally.role += mention.role
                tally.speech += mention.speech
                tally.place_prep += mention.place_prep
                tally.articles.add(index)
    return _merge(tallies, frequency)


def _capitals_mid(sentence: list[Word]) -> Iterable[str]:
    """Words capitalised mid-sentence, not right after a word capitalised only by its position."""
    for before, word in zip(sentence, sentence[1:], strict=False):
        if word.shape is Shape.CAP and not word.initial and not before.initial:
            yield word.norm


def _mentions(
    sentence: list[Word], frequency: Frequency, mid_capitals: set[str], lowercase: set[str]
) -> Iterable[Mention]:
    for start, end in _runs(sentence):
        run = sentence[start:end]
        if _is_phrase(run, frequency, lowercase):
            continue
        while run and (
            run[0].norm in STOPWORDS
            or run[0].norm in CONNECTORS
            or _is_positional(run, frequency, mid_capitals)
        ):
            run, start = run[1:], start + 1
        run = _drop_dates(run)
        while run and (run[-1].norm in CONNECTORS or run[-1].shape is Shape.NUMBER and len(run) == 1):
            run = run[:-1]
        if not run or len(run) == 1 and len(run[0].norm) < 2:
            continue
        cut = max((i for i, w in enumerate(run) if w.norm in TITLES), default=-1)
        honorific = ""
        if cut == len(run) - 1:
            continue  # a role alone: "Prime Minister", "Chief Prosecutor"
        if cut >= 0:
            if run[cut].norm in HONORIFICS:
                honorific = run[cut].text if run[cut].shape is Shape.CAP else run[cut].text.capitalize()
            run = run[cut + 1 :]
        first = start + cut + 1
        before = sentence[first - 1] if first > 0 else None
        after = sentence[first + len(run)] if first + len(run) < len(sentence) else None
        if _is_adjective(run, after):
            continue
        yield Mention(
            tuple(run),
            honorific=honorific,
            role=cut >= 0 and not honorific or _is_occupation(before, frequency),
            speech=after is not None
            and after.norm in SPEECH_VERBS
            and after.joined
            or before is not None
            and before.norm in ("said", "says", "added")
            and run[0].joined,
            place_prep=before is not None and before.norm in PLACE_PREPOSITIONS and run[0].joined,
        )


def _is_positional(run: list[Word], frequency: Frequency, mid_capitals: set[str]) -> bool:
    """A first word capitalised only by its position: common, and never capitalised mid-sentence."""
    first = run[0]
    if not first.initial or first.norm in mid_capitals:
        return False
    if first.norm.endswith(("ed", "ing", "ly")) and len(first.norm) > 5:
        return True  # "Quizzed by the Sun", "Responding to ..."
    if frequency(first.norm) < COMMON_ZIPF:
        return False
    # Alone ("Despite"), or before a name of its own ("Former Bank of England"); not "Tony Abbott".
    rest = [w for w in run[1:] if w.shape is not Shape.NUMBER]
    return len(rest) != 1 or bool({w.norm for w in rest} & ORGANISATION_WORDS)


def _is_adjective(run: list[Word], after: Word | None) -> bool:
    """A nationality or region used as an adjective ("Albanian capital", "Balkan nations")."""
    return (
        len(run) == 1
        and run[0].norm.endswith(DEMONYM_ENDINGS)
        and after is not None
        and after.shape is Shape.LOWER
        and after.joined
        and after.norm not in SPEECH_VERBS
        and after.norm not in STOPWORDS
    )


def _runs(sentence: list[Word]) -> Iterable[tuple[int, int]]:
    """Yield [start, end) of runs of capitalised words (with connectors and trailing numbers)."""
    i = 0
    n = len(sentence)
    while i < n:
        if sentence[i].shape not in (Shape.CAP, Shape.ACRONYM):
            i += 1
            continue
        j = i + 1
        while (
            j < n and sentence[j].joined and not sentence[j - 1].possessive and not sentence[j - 1].ends_name
        ):
            word = sentence[j]
            if word.shape in (Shape.CAP, Shape.ACRONYM):
                j += 1
            elif word.norm in CONNECTORS and _connects(sentence, j):
                j = _connects(sentence, j)
            elif word.shape is Shape.NUMBER and len(word.norm) <= 3:
                j += 1
            else:
                break
        yield i, j
        i = j


def _connects(sentence: list[Word], j: int) -> int:
    """Where the capitalised word after connectors stands ("Court of Appeal", "Match of the Day"), or 0."""
    k = j
    while k < len(sentence) and sentence[k].norm in CONNECTORS and sentence[k].joined:
        k += 1
    if k < len(sentence) and k - j <= 2 and sentence[j].norm != "the" and sentence[k].shape is Shape.CAP:
        return k if sentence[k].joined else 0
    return 0


def _drop_dates(run: list[Word]) -> list[Word]:
    if any(w.shape is Shape.NUMBER for w in run) or len(run) == 1:
        run = [w for w in run if w.norm not in CALENDAR and w.shape is not Shape.NUMBER or _is_label(run, w)]
    while run and run[-1].norm in WEEKDAYS:  # "Leeds on Monday"
        run = run[:-1]
        while run and run[-1].norm in CONNECTORS:
            run = run[:-1]
    return run


def _is_label(run: list[Word], word: Word) -> bool:
    """A number that belongs to a name ("Article 3", "Radio 5 Live"), unlike one of a date ("March 23")."""
    if word.shape is not Shape.NUMBER:
        return False
    at = run.index(word)
    return at > 0 and run[at - 1].norm not in CALENDAR


def _is_phrase(run: list[Word], frequency: Frequency, lowercase: set[str]) -> bool:
    """Common words capitalised for emphasis that the text also writes in lowercase ("Return Hubs")."""
    return (
        len(run) > 1
        and all(w.shape is Shape.CAP and frequency(w.norm) >= COMMON_ZIPF - 0.5 for w in run)
        and all(w.norm in lowercase for w in run)
    )


def _is_occupation(word: Word | None, frequency: Frequency) -> bool:
    if word is None or word.shape is not Shape.LOWER or not word.joined:
        return False
    return (
        word.norm in TITLES
        or word.norm in OCCUPATIONS
        or (word.norm.endswith(OCCUPATION_ENDINGS) and len(word.norm) > 5 and 0 < frequency(word.norm) < 4.0)
    )


def _kind(key: tuple[str, ...], tally: _Tally, frequency: Frequency, singles: set[str]) -> Kind:
    words = set(key)
    flat = " ".join(key).split()
    acronym = any(w.isupper() and len(w) > 1 for form in tally.forms for w in form.split()[-len(key) :])
    digits = any(c.isdigit() for c in "".join(key))
    if tally.honorific or tally.role and not words & ORGANISATION_WORDS and not acronym and not digits:
        if len(key) > 1 or tally.honorific or frequency(key[0]) < COMMON_ALIAS_ZIPF:
            return Kind.PERSON
    if words & ORGANISATION_WORDS:
        return Kind.ORGANISATION
    if words & PLACE_WORDS or len(key) == 1 and key[0] in COUNTRY_ACRONYMS:
        return Kind.PLACE
    if acronym:
        return Kind.ORGANISATION
    if 2 <= len(key) <= 3 and not digits and not words & NOT_IN_NAMES:
        if tally.place_prep * 2 > sum(tally.norms.values()):
            return Kind.PLACE
        evidence = tally.speech or tally.role or flat[-1] in singles
        if evidence or not all(frequency(w) >= 4.0 for w in flat):
            return Kind.PERSON  # "Question Time", "Real World": common words need evidence to be a name
    if tally.speech and len(key) == 1:
        return Kind.PERSON
    if tally.place_prep:
        return Kind.PLACE
    return Kind.NAME


def _merge(tallies: dict[tuple[str, ...], _Tally], frequency: Frequency) -> list[Entity]:
    singles = {key[0] for key in tallies if len(key) == 1}
    kinds = {key: _kind(key, tally, frequency, singles) for key, tally in tallies.items()}
    people = [k for k, kind in kinds.items() if kind is Kind.PERSON and len(k) >= 2]
    merged_into: dict[tuple[str, ...], tuple[str, ...]] = {}
    for key in tallies:
        owners = [p for p in people if p != key and len(p) > len(key) and _is_part(key, p, frequency)]
        if owners:
            merged_into[key] = max(owners, key=lambda p: (sum(tallies[p].norms.values()), len(p)))
    groups: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for key in tallies:
        root = key
        while root in merged_into:
            root = merged_into[root]
        groups[root].append(key)
    entities = [_entity(root, [tallies[k] for k in keys], kinds[root]) for root, keys in groups.items()]
    return sorted(entities, key=lambda e: (-e.count * e.articles, e.name))


def _is_part(short: tuple[str, ...], full: tuple[str, ...], frequency: Frequency) -> bool:
    """A surname, an uncommon first name ("Keir", not "Mark"), or a tail of a full name ("Clarke Smith")."""
    flat_short, flat_full = " ".join(short).split(), " ".join(full).split()
    n = len(flat_short)
    if flat_full[-n:] == flat_short:
        return True
    return n == 1 and flat_full[0] == flat_short[0] and frequency(flat_short[0]) < COMMON_ALIAS_ZIPF


def _entity(root: tuple[str, ...], tallies: list[_Tally], kind: Kind) -> Entity:
    forms: Counter[str] = Counter()
    for tally in tallies:
        forms.update(tally.forms)
    bare = [f for f, _ in forms.most_common() if tuple(_norm_words(f)) == _flat(root)]
    name = bare[0] if bare else _strip_honorific(forms.most_common(1)[0][0])
    aliases = [f for f, _ in forms.most_common() if _norm_words(f) != _norm_words(name)]
    if kind is Kind.PERSON:
        aliases = [a for a in aliases if not _norm_words(a)[-len(_flat(root)) :] == list(_flat(root))]
    articles: set[int] = set()
    for tally in tallies:
        articles |= tally.articles
    return Entity(
        name=name,
        kind=kind,
        count=sum(forms.values()),
        aliases=tuple(dict.fromkeys(aliases)),
        forms=tuple(forms.most_common()),
        articles=len(articles),
    )


def _flat(key: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(" ".join(key).split())


def _norm_words(form: str) -> list[str]:
    return normal_words(form)


def _strip_honorific(form: str) -> str:
    first, _, rest = form.partition(" ")
    return rest if first.casefold() in HONORIFICS and rest else form
