"""Match stories against the watchlist's people and topics.

Semantics, in the order they are applied:
1. Title and summary are normalised separately (`bot.normalize`); a term never spans the two.
2. A term matches where its words stand consecutively, on word boundaries. A word ending in `*` matches
   any word that begins with it (`deport*`: deport, deported, deportation).
3. Other words may differ by typos, scaled to their length: up to 4 letters exact, 5 to 8 letters one edit,
   9 or more two (an edit is an insertion, deletion, substitution or swap of neighbours). A rule's `fuzzy:`
   (0-100) replaces that scale: a word then needs at least that similarity; 100 means exact.
4. A typo match is refused where it would turn an ordinary word into a term: the story's word must not be
   a common word of the language (the `lexicon`), must start with the same letter, and for people's names
   must be capitalised unless the text is in capitals throughout. So "garage" is never Farage and "Philip"
   never Philp, while "Keir Stamer" and "Badenoh" still find their people.
5. A person matches on their `name`, or on an alias when the rule has no `context` or one of the context
   terms is in the story (title or summary). A topic matches when one of its `terms` matches (if it has
   any), every `all` group has a matching term, and, for aliases, a context term is present. Any `none`
   term vetoes the rule. `fields:` limits all of this to the title or the summary.
6. Each matching rule yields one `Match`: its best evidence (title before summary, then score, then the
   longer term), taken from its names, aliases and terms, or for a topic made only of `all` groups, from
   the first group. Matches are ordered the same way, so a title match ranks above a summary match.

Speed: a story's distinct words are looked up in an index of the watchlist's words (exact, prefix and a
deletion-neighbourhood index for typos), and the result is cached per distinct word, so the cost of a story
grows with its length and the number of candidate terms, not with the size of the watchlist.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.model import Field, Match, RuleKind, Story
from bot.normalize import WORD, bare, fold, fold_word, is_shouting, prepare, tokenize, words
from bot.watchlist import Fields, Rule

MAX_EDITS = 2
# Joins title and summary into one text: a letter NFKC turns into "st", so no prepared text contains it,
# and a word that matches nothing, so no term runs from the title into the summary.
_BREAK = "\ufb06"
_NO_HITS: dict[int, float] = {}
# A cached word costs about 250 bytes across the caches (68,372 distinct words in 20,297 real feed items
# took 16 MB), so 100,000 of them stay near 25 MB; real feeds bring some 3 new words a story.
_WORD_CACHE_LIMIT = 100_000


class Role(enum.IntEnum):
    TERM = 0  # a person's name or a topic's term: enough on its own
    ALIAS = 1  # needs context when the rule has any
    GROUP = 2  # one of the rule's `all` groups
    CONTEXT = 3
    NONE = 4


def edits_for(word: str, fuzzy: int | None) -> int:
    """Return how many typos a word of a term may carry."""
    if fuzzy is not None:
        return min(MAX_EDITS, int(len(word) * (100 - fuzzy) / 100))
    if len(word) <= 4:
        return 0
    return 1 if len(word) <= 8 else 2


@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str
    prefix: bool
    edits: int
    is_name: bool


@dataclass(slots=True)
class _Term:
    text: str
    patterns: tuple[int, ...]
    anchor: int = 0  # the index of the term's rarest word, by which it is indexed
    uses: list[tuple[int, Role, int]] = field(default_factory=list)  # (rule index, role, group index)


@dataclass(frozen=True, slots=True)
class _Hit:
    pattern: int
    score: float
    fuzzy: bool


@dataclass(frozen=True, slots=True)
class _Found:
    term: int
    field: Field
    score: float
    first: int  # word indices in the joined title and summary
    last: int
    length: int  # characters the matched words span (with single separators), to prefer the longer term

    def rank(self) -> tuple[int, float, int]:
        return (self.field is Field.TITLE, self.score, self.length)


class Matcher:
    """A watchlist compiled for fast matching. Build once per rule set; `match` is safe to call repeatedly."""

    def __init__(self, rules: Sequence[Rule], lexicon: Collection[str] = frozenset()) -> None:
        self.rules = tuple(rules)
        self._lexicon = lexicon
        self._patterns: list[_Pattern] = []
        self._pattern_ids: dict[_Pattern, int] = {}
        self._terms: list[_Term] = []
        self._term_ids: dict[tuple[str, tuple[int, ...]], int] = {}
        self._starts: dict[int, list[int]] = {}
        self._exact: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        self._deletes: dict[str, list[int]] = {}
        self._cache: dict[str, tuple[_Hit, ...]] = {}
        self._raw_cache: dict[str, tuple[tuple[_Hit, ...], bool] | tuple[()]] = {}
        self._seen: set[str] = set()  # raw words looked up
        self._starters: set[str] = set()  # raw words that match the anchor word of some term
        for index, rule in enumerate(self.rules):
            self._compile_rule(index, rule)
        self._index_patterns()
        self._anchor_patterns = frozenset(term.patterns[term.anchor] for term in self._terms)

    def _compile_rule(self, index: int, rule: Rule) -> None:
        is_name = rule.kind is RuleKind.PERSON
        roles: list[tuple[Iterable[str], Role, int]] = [
            (rule.terms, Role.TERM, 0),
            (rule.aliases, Role.ALIAS, 0),
            (rule.context, Role.CONTEXT, 0),
            (rule.none, Role.NONE, 0),
        ]
        roles.extend((group, Role.GROUP, g) for g, group in enumerate(rule.all))
        for texts, role, group in roles:
            for text in texts:
                names = is_name and role in (Role.TERM, Role.ALIAS)
                term = self._term_for(text, rule.fuzzy, names)
                if term is not None:
                    self._terms[term].uses.append((index, role, group))

    def _term_for(self, text: str, fuzzy: int | None, is_name: bool) -> int | None:
        wildcard = text.rstrip().endswith("*")
        tokens = tokenize(prepare(text.rstrip().rstrip("*")))
        if not tokens:
            return None
        patterns = []
        for i, token in enumerate(tokens):
            prefix = wildcard and i == len(tokens) - 1
            edits = 0 if prefix else edits_for(token.norm, fuzzy)
            pattern = _Pattern(token.norm, prefix, edits, is_name)
            patterns.append(self._pattern_ids.setdefault(pattern, len(self._pattern_ids)))
            if patterns[-1] == len(self._patterns):
                self._patterns.append(pattern)
        key = (text, tuple(patterns))
        if key not in self._term_ids:
            self._term_ids[key] = len(self._terms)
            # Index a term by its rarest word ("The Hague" by "hague", "David Cameron" by "cameron"), so
            # that common words starting many terms do not make every story a candidate.
            anchor = min(range(len(patterns)), key=lambda k: self._rarity(self._patterns[patterns[k]]))
            self._terms.append(_Term(text.strip(), tuple(patterns), anchor))
            self._starts.setdefault(patterns[anchor], []).append(self._term_ids[key])
        return self._term_ids[key]

    def _rarity(self, pattern: _Pattern) -> tuple[bool, bool, int]:
        return (pattern.prefix, pattern.text in self._lexicon, -len(pattern.text))

    def _index_patterns(self) -> None:
        for pid, pattern in enumerate(self._patterns):
            if pattern.prefix:
                self._prefix.setdefault(pattern.text, []).append(pid)
                continue
            self._exact.setdefault(pattern.text, []).append(pid)
            for variant in _deletions(pattern.text, pattern.edits):
                self._deletes.setdefault(variant, []).append(pid)

    def _lookup(self, word: str) -> tuple[_Hit, ...]:
        """Return the watchlist words a story word matches; cached per distinct word."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        hits: dict[int, _Hit] = {pid: _Hit(pid, 100.0, False) for pid in self._exact.get(word, ())}
        for k in range(3, len(word) + 1):
            for pid in self._prefix.get(word[:k], ()):
                hits[pid] = _Hit(pid, 100.0, False)
        if self._deletes and len(word) >= 4 and word not in self._lexicon:
            for variant in _deletions(word, MAX_EDITS):
                for pid in self._deletes.get(variant, ()):
                    if pid not in hits:
                        hit = self._verify(word, pid)
                        if hit is not None:
                            hits[pid] = hit
        result = tuple(hits.values())
        if len(self._cache) >= _WORD_CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = result
        return result

    def _verify(self, word: str, pid: int) -> _Hit | None:
        pattern = self._patterns[pid]
        if word[0] != pattern.text[0]:
            return None
        distance = OSA.distance(word, pattern.text, score_cutoff=pattern.edits)
        if distance > pattern.edits:
            return None
        score = 100.0 * (1 - distance / max(len(word), len(pattern.text)))
        return _Hit(pid, round(score, 1), True)

    def match(self, story: Story) -> list[Match]:
        """Return one Match per rule the story satisfies, best first."""
        if not (story.title or story.summary):
            return []
        title, summary = prepare(story.title), prepare(story.summary)
        text = f"{title} {_BREAK} {summary}"
        words = WORD.findall(text)
        found = self._scan(words)
        if not found:
            return []
        by_rule: dict[int, list[tuple[Role, int, _Found]]] = {}
        for (term_id, _), hit in found.items():
            for rule_index, role, group in self._terms[term_id].uses:
                by_rule.setdefault(rule_index, []).append((role, group, hit))
        offsets: list[int] = []
        summary_start = len(title) + len(_BREAK) + 2
        matches = []
        for rule_index, evidence in by_rule.items():
            best = self._decide(self.rules[rule_index], evidence)
            if best is None:
                continue
            # Character spans are worked out only for the evidence that is reported.
            _offsets(text, words, offsets, best.last)
            begin, end = offsets[best.first], offsets[best.last] + len(bare(words[best.last]))
            shift = 0 if best.field is Field.TITLE else summary_start
            rule = self.rules[rule_index]
            match = Match(
                rule.id,
                rule.kind,
                self._terms[best.term].text,
                best.field,
                text[begin:end],
                best.score,
                begin - shift,
                end - shift,
            )
            matches.append((match, rule_index))
        matches.sort(key=lambda m: (m[0].field is not Field.TITLE, -m[0].score, m[1]))
        return [m for m, _ in matches]

    def _word(self, raw: str) -> tuple[tuple[_Hit, ...], bool] | tuple[()]:
        """Return a raw story word's hits and whether it is capitalised (`()` for no hits); cached."""
        word = bare(raw)
        hits = self._lookup(fold_word(word))
        info: tuple[tuple[_Hit, ...], bool] | tuple[()] = (hits, word[0].isupper()) if hits else ()
        if len(self._raw_cache) >= _WORD_CACHE_LIMIT:
            self._raw_cache.clear()
            self._seen.clear()
            self._starters.clear()
        self._raw_cache[raw] = info
        self._seen.add(raw)
        if any(hit.pattern in self._anchor_patterns for hit in hits):
            self._starters.add(raw)
        return info

    def _scan(self, words: list[str]) -> dict[tuple[int, Field], _Found]:
        """Find every term in the words of title and summary, joined by a break word that matches nothing."""
        found: dict[tuple[int, Field], _Found] = {}
        # Set operations run in C: a story is only walked from the words that can start a term.
        if not self._seen.issuperset(words):
            for word in set(words).difference(self._seen):
                self._word(word)
        starters = self._starters.intersection(words)
        if not starters:
            return found
        split = words.index(_BREAK)
        window = _Window(self, words, split)
        for i in [i for i, word in enumerate(words) if word in starters]:
            for pid in window.kept(i):
                for term_id in self._starts.get(pid, ()):
                    term = self._terms[term_id]
                    first = i - term.anchor
                    if first < 0:
                        continue
                    score = self._extend(term_id, first, window)
                    if score is None:
                        continue
                    fld = Field.TITLE if first < split else Field.SUMMARY
                    best = found.get((term_id, fld))
                    if best is None or score > best.score:
                        last = first + len(term.patterns) - 1
                        length = sum(len(bare(w)) for w in words[first : last + 1]) + last - first
                        found[(term_id, fld)] = _Found(term_id, fld, score, first, last, length)
        return found

    def _extend(self, term_id: int, i: int, window: _Window) -> float | None:
        """Return the term's score if all its words match from word i on, else None."""
        score = 100.0
        for offset, pid in enumerate(self._terms[term_id].patterns):
            word_score = window.kept(i + offset).get(pid)
            if word_score is None:
                return None
            score = min(score, word_score)
        return score

    def _decide(self, rule: Rule, evidence: list[tuple[Role, int, _Found]]) -> _Found | None:
        """Return the rule's best evidence if the rule holds, else None."""
        allowed = [(r, g, f) for r, g, f in evidence if _in_fields(f.field, rule.fields)]
        if any(role is Role.NONE for role, _, _ in allowed):
            return None
        has_context = any(role is Role.CONTEXT for role, _, _ in allowed)
        direct = [f for role, _, f in allowed if role is Role.TERM]
        aliases = [f for role, _, f in allowed if role is Role.ALIAS]
        if aliases and (has_context or not rule.context):
            direct += aliases
        groups: dict[int, list[_Found]] = {}
        for role, group, hit in allowed:
            if role is Role.GROUP:
                groups.setdefault(group, []).append(hit)
        if len(groups) < len(rule.all):
            return None
        needs_direct = bool(rule.terms or rule.aliases)
        if needs_direct and not direct:
            return None
        # Explain by a direct term; for `all`-only topics by the first group, which names the subject
        # (later groups tend to be context: "UK", "Home Office").
        candidates = direct or groups[0]
        return max(candidates, key=_Found.rank)


class _Window:
    """The accepted hits of a story's words, computed only for the positions a candidate term reaches."""

    __slots__ = ("matcher", "words", "split", "shouting")

    def __init__(self, matcher: Matcher, words: list[str], split: int) -> None:
        self.matcher = matcher
        self.words = words
        self.split = split  # the index of the break between title and summary
        self.shouting: list[bool | None] = [None, None]

    def kept(self, i: int) -> dict[int, float]:
        """The watchlist words that word i matches, after the capitalisation rule for names."""
        if i >= len(self.words) or i == self.split:
            return _NO_HITS
        matcher = self.matcher
        info = matcher._raw_cache.get(self.words[i])
        if info is None:
            info = matcher._word(self.words[i])
        if not info:
            return _NO_HITS
        hits, capitalised = info
        kept: dict[int, float] = {}
        for hit in hits:
            if (
                hit.fuzzy
                and not capitalised
                and matcher._patterns[hit.pattern].is_name
                and not self._shouting(i)
            ):
                continue
            kept[hit.pattern] = hit.score
        return kept

    def _shouting(self, i: int) -> bool:
        part = 0 if i < self.split else 1
        known = self.shouting[part]
        if known is None:
            field_words = self.words[: self.split] if part == 0 else self.words[self.split + 1 :]
            known = self.shouting[part] = is_shouting(" ".join(field_words))
        return known


def _offsets(text: str, words: list[str], starts: list[int], last: int) -> None:
    """Extend `starts` with the offsets of words up to index `last`.

    Words are found in order and only non-word characters lie between them, so the first occurrence of
    a word after the end of the previous one is where the tokenizer found it.
    """
    pos = starts[-1] + len(words[len(starts) - 1]) if starts else 0
    for index in range(len(starts), last + 1):
        pos = text.find(words[index], pos)
        starts.append(pos)
        pos += len(words[index])


def _in_fields(fld: Field, fields: Fields) -> bool:
    return fields is Fields.BOTH or fld.value == fields.value


def _deletions(word: str, edits: int) -> set[str]:
    """Return the word and every string made from it by deleting up to `edits` letters."""
    variants = {word}
    frontier = {word}
    for _ in range(edits):
        frontier = {w[:i] + w[i + 1 :] for w in frontier if len(w) > 1 for i in range(len(w))}
        variants |= frontier
    return variants


def build_lexicon(common_words: Iterable[str]) -> frozenset[str]:
    """Fold a list of common words into the form the matcher compares against."""
    return frozenset(fold(w) for w in common_words)


def find_rules(
    query: str, rules: Sequence[Rule], limit: int = 3, cutoff: float = 60.0
) -> list[tuple[Rule, float]]:
    """Return the rules whose id, name or aliases best resemble a query ("starmr" -> Keir Starmer)."""
    wanted = " ".join(words(query))
    if not wanted:
        return []
    choices: dict[str, Rule] = {}
    for rule in rules:
        for label in (rule.id.replace("-", " "), rule.name, *rule.aliases):
            choices.setdefault(" ".join(words(label)), rule)
    best: dict[str, tuple[Rule, float]] = {}
    for label, score, _ in process.extract(
        wanted, list(choices), scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=cutoff
    ):
        rule = choices[label]
        if rule.id not in best or score > best[rule.id][1]:
            best[rule.id] = (rule, score)
    return sorted(best.values(), key=lambda pair: -pair[1])[:limit]
