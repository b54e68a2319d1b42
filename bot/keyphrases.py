"""Find the key phrases of articles: the word sequences that say what they are about ("return hubs").

Semantics:
1. Candidates are sequences of one to three words within a sentence, between stop words (function words and
   the commonest verbs), punctuation, numbers and names. Lowercase words count, and so do common words
   capitalised only by their position or for emphasis ("Return Hubs"), read in lowercase.
2. A word's specificity is how much rarer it is than the commonest words of English: 7 minus its Zipf
   frequency (wordfreq; "the" is 7.7, "asylum" 4.0, "deportations" 3.0). A candidate's weight is its count
   times its words' mean specificity, times 1.5 for each word beyond the first (a phrase says more than a
   word), times 1.5 for each further article it appears in (what several articles share is the topic).
3. A single word needs a specificity of at least 2.5 (Zipf 4.5 or rarer), and a phrase one such word, or
   if it recurs one word of at least 1.8 ("wealth tax", "human rights"). A
   candidate may not start or end with a word in -ing, -ed or -ly (verbs and adverbs: "failed asylum
   seekers" gives "asylum seekers"), nor end with a title ("home secretary"). A single word, or a phrase
   seen once, may not start or end with a word the text uses as a verb ("to extradite", "would commit").
4. Candidates are taken by weight. One inside a phrase already taken is left out ("criminals" once
   "foreign criminals" is in); one around a phrase already taken replaces it when it accounts for at least
   half of that phrase's occurrences ("foreign criminals" replaces "criminals"), and is left out otherwise
   ("dangerous foreign criminals"). Singular and plural forms ("return hub", "return hubs") are one entry.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.sentences import COMMON_ZIPF, STOPWORDS, TITLES, VERB_MARKERS, Frequency, Shape, Word

MAX_WORDS = 3
MIN_SPECIFICITY = 2.5
MIN_RECURRING_SPECIFICITY = 1.8  # "wealth tax" (2.5, 1.9), "human rights" (1.7, 1.8) when they recur
PHRASE_BONUS = 0.5
ARTICLE_BONUS = 0.5


@dataclass(frozen=True, slots=True)
class KeyPhrase:
    phrase: str  # the most frequent form, lowercase
    forms: tuple[str, ...]  # every form kept, most frequent first ("return hubs", "return hub")
    count: int
    articles: int
    weight: float


def find_keyphrases(
    articles: Sequence[Sequence[list[Word]]], frequency: Frequency, limit: int = 30
) -> list[KeyPhrase]:
    """Return up to `limit` key phrases of the articles, heaviest first."""
    counts: Counter[tuple[str, ...]] = Counter()
    seen_in: dict[tuple[str, ...], set[int]] = defaultdict(set)
    lowercase = {w.norm for sentences in articles for s in sentences for w in s if w.shape is Shape.LOWER}
    verbs = {
        word.norm
        for sentences in articles
        for s in sentences
        for before, word in zip(s, s[1:], strict=False)
        if before.norm in VERB_MARKERS and word.joined and word.shape is Shape.LOWER
    }
    for index, sentences in enumerate(articles):
        for sentence in sentences:
            for chunk in _chunks(sentence, frequency, lowercase):
                for gram in _grams(chunk):
                    counts[gram] += 1
                    seen_in[gram].add(index)

    def specificity(word: str) -> float:
        return max(0.0, 7.0 - frequency(word))

    scored = []
    for gram, count in counts.items():
        specs = [specificity(w) for w in gram]
        needed = MIN_RECURRING_SPECIFICITY if count > 1 and len(gram) > 1 else MIN_SPECIFICITY
        if max(specs) < needed or not _is_well_formed(gram):
            continue
        if (count == 1 or len(gram) == 1) and (gram[0] in verbs or gram[-1] in verbs):
            continue  # "to extradite dangerous criminals": a verb, unless the phrase recurs
        spread = 1 + ARTICLE_BONUS * (len(seen_in[gram]) - 1)
        weight = count * sum(specs) / len(specs) * (1 + PHRASE_BONUS * (len(gram) - 1)) * spread
        scored.append((weight, gram))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return _select(scored, counts, seen_in, limit)


def _chunks(sentence: list[Word], frequency: Frequency, lowercase: set[str]) -> Iterable[list[str]]:
    """Yield runs of candidate words, split at stop words, punctuation, numbers and names."""
    chunk: list[str] = []
    for word in sentence:
        if not word.joined and chunk:
            yield chunk
            chunk = []
        if word.norm in TITLES:
            chunk = []  # "shadow home secretary", "prime minister": a role, not a topic
            continue
        plain = word.shape is Shape.LOWER or (
            word.shape is Shape.CAP
            and word.norm in lowercase
            and (word.initial or frequency(word.norm) >= COMMON_ZIPF - 0.5)
        )
        if not plain or word.norm in STOPWORDS or " " in word.norm or not word.norm.isalpha():
            if chunk:
                yield chunk
            chunk = []
            continue
        chunk.append(word.norm)
        if word.possessive:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _grams(chunk: list[str]) -> Iterable[tuple[str, ...]]:
    for n in range(1, MAX_WORDS + 1):
        for i in range(len(chunk) - n + 1):
            yield tuple(chunk[i : i + n])


def _is_verbal(word: str) -> bool:
    return len(word) > 4 and word.endswith(("ing", "ed", "ly"))


def _is_well_formed(gram: tuple[str, ...]) -> bool:
    if _is_verbal(gram[-1]) or _is_verbal(gram[0]) or gram[-1] in TITLES:
        return False
    return all(len(w) > 1 for w in gram)


def _singular(gram: tuple[str, ...]) -> tuple[str, ...]:
    last = gram[-1]
    if len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return (*gram[:-1], last)


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    n = len(shorter)
    return any(longer[i : i + n] == shorter for i in range(len(longer) - n + 1))


def _select(
    scored: list[tuple[float, tuple[str, ...]]],
    counts: Counter[tuple[str, ...]],
    seen_in: dict[tuple[str, ...], set[int]],
    limit: int,
) -> list[KeyPhrase]:
    taken: list[list[tuple[str, ...]]] = []  # each entry: its forms, the first the heaviest
    weights: list[float] = []
    for weight, gram in scored:
        base = _singular(gram)
        home = next((i for i, forms in enumerate(taken) if _singular(forms[0]) == base), None)
        if home is not None:
            taken[home].append(gram)
            continue
        if any(_contains(forms[0], gram) for forms in taken):
            continue  # a longer phrase taken already stands for it
        inner = next((i for i, forms in enumerate(taken) if _contains(gram, forms[0])), None)
        if inner is not None:
            if counts[gram] * 2 >= counts[taken[inner][0]]:
                taken[inner] = [gram]  # "criminals" is mostly "foreign criminals": the phrase says more
            continue
        if len(taken) < limit:
            taken.append([gram])
            weights.append(weight)
    result = []
    for forms, weight in zip(taken, weights, strict=True):
        ordered = sorted(forms, key=lambda g: -counts[g])
        articles: set[int] = set()
        for form in forms:
            articles |= seen_in[form]
        result.append(
            KeyPhrase(
                phrase=" ".join(ordered[0]),
                forms=tuple(" ".join(g) for g in ordered),
                count=sum(counts[g] for g in forms),
                articles=len(articles),
                weight=round(weight, 1),
            )
        )
    return result
