"""Fold coverage of one story into a cluster, as stories arrive (streaming, sub-quadratic).

A new story joins the cluster of the stored story (within `window`) that it resembles most, if any rule
holds, else it starts its own cluster, named by its id. In order:
1. Same item: the same canonical URL (`bot.urls`).
2. Near-identical headline: rapidfuzz token-sort ratio of the normalised titles >= `title_same`.
3. Syndicated copy: the summaries' word 3-shingles overlap (Jaccard) >= `shingles_same`, on summaries of
   at least 15 words, with some weighted overlap of words too.
4. The same development, reworded: a logistic model over the evidence (`EVIDENCE`) gives the probability
   that the two stories report one development, and it must reach `join_probability`. The evidence is the
   weighted overlap of the stories' informative words (title and the start of the summary; rare words
   such as names and places weigh more, by inverse document frequency learned from the stream itself),
   the same for titles alone, for headline words found anywhere in the other story, and for names and
   numbers; the title ratio; shared wording; the time between the two; whether one outlet published
   both; and the story's similarity to the whole cluster (the centroid of its members' words), so a
   story that fits a cluster's common vocabulary joins it more readily than one that echoes one member;
   and, given an embedder (`bot.meaning`), the cosine of the two stories' text embeddings, which finds
   a development reworded in other words ("curbs consideration of race" / "sets limits on affirmative
   action"). The weights are fitted on the hand-labelled set (`python -m evaluation.dedup --fit`): one
   model with the embeddings, one without them (`lexical_model`) for an index built without an embedder.

A live blog or a newsletter (`rolling_page`) covers many developments, or one minute by minute: it folds
only with its own outlet's live pages, and no report folds into it.

Candidates come from an inverted index (blocking) of each story's title words and the rarest words of
its summary: a story is compared only with the `max_candidates` stored stories that share the most of
these words with it (a word held by more than `max_postings` stored stories is no evidence and is
skipped), so no story is ever compared with every stored story. Pairs that share little weight
(`min_overlap`) are dismissed before the rest of the evidence is gathered, and the cluster centroid, the
costliest piece, is weighed only where it could still tip the balance. Stories older than the window age
out, and a cluster with them once none of its stories is left. The index holds plain data and is rebuilt
from stored stories with `restore` after a restart.

The text is analysed here; the index (stored stories, postings, document frequencies, centroids, and the
choosing and scoring of candidates) is `bot._dedupcore`, compiled from Cython, where each story's keys are
sorted C arrays and every overlap is one merge.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Protocol

import snowballstemmer

from bot._dedupcore import Core, Doc
from bot.model import ClusterAssignment, Story
from bot.normalize import WORD, bare, fold_word, prepare

STOPWORDS = frozenset(
    "a an and are as at be been being but by for from had has have he her hers him his i if in into is it its "
    "me my of on or our ours she so than that the their theirs them then there these they this those to too "
    "us was we were what when where which while who whom why will with would you your yours after over about "
    "new news says said say more up out not no can could may might just also how s t amp via live latest "
    "update updates watch video read one two first last year years day days week time get gets got make "
    "makes made take takes back still now here all any some most much many other such only own same very".split()
)
_STEMMER = snowballstemmer.stemmer("english")
_NUMBERS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_SUMMARY_WORDS = 40
_RARE_SUMMARY_KEYS = 8


# The evidence a candidate pair is scored on, in the order of `DedupConfig.weights`.
EVIDENCE = (
    "overlap",  # weighted Dice overlap of informative words
    "containment",  # shared weight over the lighter story's weight
    "title_overlap",  # weighted Dice overlap of the titles' words
    "headline_in_other",  # the lesser share of each headline's weight found anywhere in the other story
    "name_overlap",  # weighted Dice overlap of names and numbers
    "rarest_shared",  # the highest inverse document frequency among shared words
    "title_ratio",  # token-sort ratio of the titles, 0-1
    "shingles",  # Jaccard overlap of the summaries' word 3-shingles
    "hours_apart",
    "same_source",  # 1 when one outlet published both (outlets rarely repeat a development)
    "meaning",  # cosine of the stories' text embeddings (0 without an embedder)
    "cluster_similarity",  # cosine between the story and its candidate cluster's centroid
)


class Embed(Protocol):
    """Maps a text, given as its whitespace-separated words, to a unit vector as the bytes of half-precision
    floats (`bot.meaning.Embedder`); the index takes two vectors' dot product as their cosine."""

    def __call__(self, words: list[str], /) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Model:
    """Logistic regression over `EVIDENCE`: a pair joins when its probability reaches `join_probability`."""

    weights: tuple[float, ...]
    bias: float
    join_probability: float


# Fitted by `python -m evaluation.dedup --fit` on tests/data/dedup (2,501 hand-labelled stories, all days):
# pairs of one development against pairs of different events. The fit learns from the pairs the shipped
# model's clustering scores, so it was repeated (fit, paste, fit) three times: the weights still move a
# little from one refit to the next, the scores do not.
# The probability to join was chosen for the best recall at pairwise precision >= 0.97 (README, "Dedup").
SEMANTIC = Model(
    (0.339, 0.123, 1.564, 2.369, -3.338, 0.331, 1.402, 4.571, -0.154, -0.98, 3.597, 16.463), -7.047, 0.45
)
# Without text embeddings (`--fit --lexical`), fitted the same way.
LEXICAL = Model(
    (2.765, -0.042, 1.21, 3.112, -3.479, 0.305, 2.227, 6.938, -0.151, -1.159, 0.0, 17.364), -6.075, 0.5
)


# Fitted the same way on all pairs, one development against the rest ("development" fold, below); the
# probability to join chosen for the best F1 of recall and strict precision (merged pairs of one development).
DEVELOPMENT_SEMANTIC = Model(
    (2.456, 0.179, 1.277, -0.015, -1.527, 0.456, 3.391, -0.009, -0.12, -1.469, 2.639, 1.115), -6.618, 0.5
)
DEVELOPMENT_LEXICAL = Model(
    (3.934, 0.252, 0.971, 0.425, -1.749, 0.467, 4.087, 0.401, -0.12, -1.532, 0.0, 1.314), -5.857, 0.45
)

# How much a cluster folds. "event": a development with its reactions, analysis and follow-ups (the models
# above: most recall at pairwise precision >= 0.97 counted by event). "development": one development only,
# a reaction to it is an entry of its own (the DEVELOPMENT_ models: fewer merges, each more often exact).
FOLDS = ("event", "development")


@dataclass(frozen=True, slots=True)
class DedupConfig:
    window: timedelta = timedelta(hours=48)
    title_same: float = 90.0
    shingles_same: float = 0.6
    model: Model = SEMANTIC  # for an index with an embedder
    lexical_model: Model = LEXICAL  # for one without
    max_postings: int = 30
    min_block_share: float = 0.15
    overlap_floor: float = 0.2
    min_overlap: float = 0.15
    max_candidates: int = 8
    # A cluster takes stories by likeness for this long after its first story: one development's coverage
    # is a day or so of news, and a cluster that kept growing would chain one running story's days into
    # one entry (al-Shifa's siege and, two days on, its raid). Copies (address, headline, summary) still join.
    max_span: timedelta = timedelta(hours=30)

    @classmethod
    def folding(cls, fold: str = "event", window: timedelta = timedelta(hours=48)) -> DedupConfig:
        """The configuration for a fold level (`FOLDS`) and a window."""
        if fold == "event":
            return cls(window=window)
        if fold == "development":
            return cls(window=window, model=DEVELOPMENT_SEMANTIC, lexical_model=DEVELOPMENT_LEXICAL)
        raise ValueError(f"dedup: fold must be one of {', '.join(FOLDS)}, got {fold!r}")


# A word of a text: its normal form, its key (None for a stopword) and its name key (None unless a name).
_Word = tuple[str, str | None, str | None]
# A whitespace-separated token, analysed once: its words' normal forms, and the ids (`_word_id`) of their
# keys with name keys, of their keys without name keys (for the token opening a text), and of their name keys.
_Token = tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
_NORMS = itemgetter(0)
Evidence = tuple[float, ...]
Observer = Callable[[str, str, Evidence], None]


class ClusterIndex:
    """Streaming clusterer: `assign` each story once, in arrival order.

    `embed`, when given, maps a story's text to a unit vector (`bot.meaning.embedder()`); the model then
    weighs the stories' meaning too (`config.model`), else words alone (`config.lexical_model`).
    `observe`, when given, is called with (story id, candidate story id, evidence) for every candidate a
    story is scored against; the evaluation fits the model's weights from these.

    This class analyses a story's text; the index itself (stored stories, postings, document frequencies,
    centroids, candidates and their scoring) is the native core, `bot._dedupcore`.
    """

    def __init__(
        self, config: DedupConfig | None = None, observe: Observer | None = None, embed: Embed | None = None
    ) -> None:
        self.config = config or DedupConfig()
        self.model = self.config.model if embed is not None else self.config.lexical_model
        if len(self.model.weights) != len(EVIDENCE):
            raise ValueError(f"dedup: {len(EVIDENCE)} weights needed, got {len(self.model.weights)}")
        self._embed = embed
        cfg, model = self.config, self.model
        self._window = cfg.window.total_seconds()
        self._core = Core(
            _WORDS,
            self._window,
            cfg.title_same,
            cfg.shingles_same,
            cfg.max_postings,
            cfg.min_block_share,
            cfg.overlap_floor,
            cfg.min_overlap,
            cfg.max_candidates,
            cfg.max_span.total_seconds(),
            tuple(map(float, model.weights)),
            model.bias,
            model.join_probability,
            observe,
        )

    def __len__(self) -> int:
        return len(self._core)

    def assign(self, story: Story, now: datetime) -> ClusterAssignment:
        """Put a new story in a cluster (an existing one, or its own) and index it."""
        cluster_id, new, reason, score = self._core.assign(
            self._doc(story), story.id, _url_key(story), _when(story, now)
        )
        return ClusterAssignment(story.id, cluster_id, new, reason, round(score, 3))

    def restore(self, story: Story, cluster_id: str, now: datetime) -> None:
        """Index a stored story in its known cluster (after a restart); a copy of a story restored before it
        in that cluster is counted, not stored, as `assign` does."""
        when = _when(story, now)
        if when < now.timestamp() - self._window:
            # Published before the window: its words count, but nothing will join it (nor need its meaning).
            self._core.count(self._doc(story, meaning=False, weigh=False))
            return
        self._core.restore(self._doc(story), story.id, cluster_id, _url_key(story), when)

    def expire(self, now: datetime) -> int:
        """Forget stories older than the window; return how many were dropped. (`assign` does this every
        1,000 stories.)"""
        return int(self._core.expire(now.timestamp() - self._window))

    def sizes(self) -> dict[str, int]:
        """What the index holds (stories, clusters, URLs, postings, document frequencies), and the tokens
        cached for every index in the process."""
        return {**self._core.sizes(), "cached tokens": _analyse_token.cache_info().currsize}

    def _doc(self, story: Story, meaning: bool = True, weigh: bool = True) -> Doc:
        """Analyse a story: a capitalised word counts as a name except where it opens the text."""
        title_words = prepare(story.title).split()
        head_words = prepare(story.summary).split(maxsplit=_SUMMARY_WORDS)[:_SUMMARY_WORDS]
        title = list(map(_analyse_token, title_words))
        head = list(map(_analyse_token, head_words))
        vector = self._embed(title_words + head_words) if self._embed is not None and meaning else None
        return self._core.doc(
            story.id,
            title,
            head,
            " ".join(sorted(chain.from_iterable(map(_NORMS, title)))),
            vector,
            rolling_page(story.title, story.url),
            sys.intern(story.source),
            weigh,
        )


# With the word analyses behind it, a cached token costs about 550 bytes. On 20,297 real feed items (834,029
# tokens, 92,016 distinct) the 50,000 most recently used tokens hit 88.0% of the time, an unbounded cache 89.0%.
TOKEN_CACHE = 50_000


@lru_cache(maxsize=TOKEN_CACHE)
def _analyse_token(token: str) -> _Token:
    """Analyse a whitespace-separated token once (see `_Token`)."""
    words = list(map(_analyse, WORD.findall(_ACRONYM.sub(_undot, token))))
    keys = [k for w in words for k in w[1:] if k]
    return (
        tuple(w[0] for w in words),
        tuple(map(_word_id, keys)),
        tuple(_word_id(w[1]) for w in words if w[1]),
        tuple(_word_id(k) for k in keys if k[0] == "#"),
    )


# Every key seen, numbered in order: a stored story keeps its keys as 4-byte ids. The vocabulary only grows,
# as the document frequencies do (news uses some 100,000 distinct keys a year; ~100 bytes each).
_IDS: dict[str, int] = {}
_WORDS: list[str] = []
_NEW_WORD = threading.Lock()


def _word_id(key: str) -> int:
    """The id of a key (a stem, or "#" and a stem for a name), given on first sight."""
    if (known := _IDS.get(key)) is not None:
        return known
    with _NEW_WORD:
        if (known := _IDS.get(key)) is None:
            _WORDS.append(key)  # first: an id in `_IDS` is looked up in `_WORDS` without the lock
            known = _IDS[key] = len(_WORDS) - 1
        return known


@lru_cache(maxsize=100_000)
def _analyse(raw: str) -> _Word:
    """Return a raw word's normal form, its key (None for stopwords) and its name key.

    Keys are stems ("kidnapped", "kidnapping" -> "kidnap"), number words are digits ("two" -> "2"),
    and two-letter acronyms in capitals count ("UK", "US", "EU").
    """
    word = bare(raw)
    norm = fold_word(word)
    acronym = word.isupper() and len(word) >= 2 and norm.isalpha()
    informative = acronym or (norm not in STOPWORDS and (len(norm) >= 3 or norm.isdigit()))
    key = _NUMBERS.get(norm) or (norm if acronym else _STEMMER.stemWord(norm)) if informative else None
    # A capitalised word mid-sentence is a name, a place or an institution; numbers are as telling.
    named = informative and ((word[0].isupper() and not word.isupper()) or acronym or norm.isdigit())
    return norm, key and sys.intern(key), sys.intern(f"#{key}") if named else None


_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,}")


def _undot(m: re.Match[str]) -> str:
    return m.group().replace(".", "")


# Live blogs, rolling pages and newsletters, by their headline or their URL: "... – live", "... – UK politics
# live", "LIVE: ...", "Ukraine live briefing: ...", "... live updates", "... as it happened", "Politics latest:
# ...", "... - follow latest", "The Latest: ...", "Tuesday evening news briefing: ...", "The Papers: ...". A
# separator must be spaced and most patterns anchored, so "Post-Brexit Britain is a worse place to live",
# "Taylor Swift: Live in Paris review" or "Officials cancel Thursday briefing" are ordinary reports.
_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_ROLLING_TITLE = re.compile(
    r"\s[-–—|]\s*(?:follow\s+|watch\s+)?live\s*$"
    r"|\s[-–—|]\s[^-–—|]{0,40}\blive\s*$"
    r"|^\s*live(?:\s+(?:news|updates|blog))?\s*[-–—|:]"
    r"|\blive\s+(?:updates?|blog|briefing|news)\s*[-–—|:]|\blive\s*:|\blive\s+updates?\s*$"
    r"|\bas it happened\b"
    r"|\blatest(?:\s+(?:news|updates))?\s*:|^\s*the\s+latest\s*[-–—|:]"
    r"|\s[-–—|]\s*(?:follow\s+)?(?:the\s+)?latest(?:\s+updates)?\s*$"
    rf"|^\s*(?:your\s+)?(?:{_DAYS}|morning|evening|weekend|daily|up\s+first)(?:\s+(?:morning|evening))?"
    r"(?:\s+news)?\s+briefing\b"
    r"|^\s*(?:the\s+papers|first\s*thing|firstft)\s*:",
    re.IGNORECASE,
)
_ROLLING_WORDS = ("live", "latest", "briefing", "papers", "first", "happened")
# A path segment "live" (/politics/live/2023/..., /live/2023/...), or a live-news, liveblog or live-updates one.
_ROLLING_URL = re.compile(
    r"/live(?:/|$)|/live-news/|/liveblogs?/|/live-updates?/|/as-it-happened", re.IGNORECASE
)


def rolling_page(title: str, url: str) -> bool:
    """Whether a story is a rolling page, a live blog or a newsletter: a page that covers many developments
    (or one, minute by minute), so it is a development of its own."""
    # The patterns cost ~10 us a story; a word each of them needs is looked for first (~0.3 us).
    folded = title.casefold()
    return bool(
        (any(map(folded.__contains__, _ROLLING_WORDS)) and _ROLLING_TITLE.search(title))
        or (("live" in url.casefold() or "as-it-happened" in url.casefold()) and _ROLLING_URL.search(url))
    )


def _when(story: Story, now: datetime) -> float:
    published = story.published
    if published is None or published > now + timedelta(hours=1):
        return now.timestamp()
    return published.timestamp()


def _url_key(story: Story) -> int | None:
    """The hash of a story's canonical URL (a string would cost 100 bytes a stored story), or None."""
    return hash(story.canonical_url) if story.canonical_url else None
