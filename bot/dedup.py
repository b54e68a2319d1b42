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
"""

from __future__ import annotations

import math
import operator
import re
import struct
import sys
import threading
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Protocol

import snowballstemmer
from rapidfuzz import fuzz, process

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
    """Maps a text, given as its whitespace-separated words, to a vector (`bot.meaning.Embedder`)."""

    def __call__(self, words: list[str], /) -> bytes | None: ...

    def similarity(self, a: bytes, b: bytes | memoryview, /) -> float:
        """The cosine of two vectors (the second may be a view into a stored story's data)."""


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


@dataclass(slots=True)
class _Member:
    """A stored story, kept as small as scoring allows: a window holds some 100,000 of them.

    Its numbers are packed in one bytes object, `data`: first its three weight sums (`_SUMS`: all its
    keys', its title keys' and its names'), then, as 32-bit units (`units`), its keys, its shingles and
    its text vector. The keys are word ids (`_word_id`) in five runs: the rarest summary words, the
    title's words that are not names, the title's names, the summary's other names, and the rest of the
    summary; so its blocking words, title words and names are each a slice, and no key is stored twice.
    The shingles are their 32-bit hashes; the vector the embedder's bytes (half-precision floats). One
    object instead of a tuple, an array and two bytes objects (and three floats) saves ~500 bytes a story.
    """

    key: int
    story_id: str
    cluster_id: str
    title: str
    data: bytes
    title_from: int
    names_from: int
    title_to: int
    names_to: int
    keys_to: int
    shingles_to: int
    summary_words: int
    when: float
    source: str
    rolling: bool

    @property
    def units(self) -> memoryview:
        return memoryview(self.data)[_SUMS.size : _SUMS.size + 4 * self.shingles_to].cast("I")

    @property
    def key_ids(self) -> memoryview:
        return self.units[: self.keys_to]

    @property
    def title_keys(self) -> memoryview:
        return self.units[self.title_from : self.title_to]

    @property
    def names(self) -> memoryview:
        return self.units[self.names_from : self.names_to]

    @property
    def blocking(self) -> memoryview:
        return self.units[: self.names_from]

    @property
    def shingles(self) -> memoryview:
        return self.units[self.keys_to : self.shingles_to]

    @property
    def vector(self) -> memoryview | None:
        start = _SUMS.size + 4 * self.shingles_to
        return memoryview(self.data)[start:] if len(self.data) > start else None

    @property
    def sums(self) -> tuple[float, float, float]:
        """The weights of its keys, of its title's keys and of its names, as they were when it arrived."""
        weight, title, names = _SUMS.unpack_from(self.data)
        return weight, title, names


# A stored story's weight sums, in native byte order and alignment, ahead of its 32-bit units.
_SUMS = struct.Struct("=3d")


@dataclass(slots=True)
class _Cluster:
    """A cluster's centroid: the keys its members hold, how many hold each, the squared norm, and how many
    members are live.

    A cluster of one story (most are) refers to that story for its keys and keeps no counts; a larger one
    keeps its distinct keys sorted, with their counts in an array alongside (6 bytes a key, where a
    Counter takes about 60).
    """

    words: _Member | array[int]
    counts: array[int] | None  # None exactly when `words` is a member
    norm2: float
    size: int
    started: float  # when its first story was published: it takes stories by likeness for `max_span`

    def dot(self, weights: dict[int, float], keys: frozenset[int]) -> float:
        """The dot product of a story's weights with the centroid, weighted by the story's weights."""
        words, weight_of = self.words, weights.__getitem__
        if isinstance(words, _Member):
            shared = list(keys.intersection(words.key_ids))
            return math.fsum(map(operator.mul, map(weight_of, shared), map(weight_of, shared)))
        # The centroid as a dict for the while it is read: building one is cheaper than a search per key.
        assert self.counts is not None
        held = dict(zip(words, self.counts, strict=True))
        shared = list(keys.intersection(held))
        squares = map(operator.mul, map(weight_of, shared), map(weight_of, shared))
        return math.fsum(map(operator.mul, squares, map(held.__getitem__, shared)))

    def add(self, keys: frozenset[int], dot: float, norm2: float, stored: bool = True) -> None:
        """Add a story's keys to the centroid; `stored` when it is a live member (not a copy, `_add_copy`)."""
        self.norm2 += norm2 + 2 * dot  # |c + d|^2 = |c|^2 + 2 c.d + |d|^2, at today's weights
        self.size += stored
        words = self.words
        merged: Counter[int] = Counter()
        if isinstance(words, _Member):
            merged.update(words.key_ids)
        else:
            counts = self.counts
            assert counts is not None
            if len(words) > 5 * len(keys):
                # A large centroid that holds every key already (a copy, a live page's update) is counted in
                # place: a search per key costs less than a rebuild.
                held = list(keys)
                where = list(map(bisect_left, repeat(words), held))
                if all(at < len(words) and words[at] == key for at, key in zip(where, held, strict=True)):
                    for at in where:
                        counts[at] = min(counts[at] + 1, 0xFFFF)
                    return
            merged.update(dict(zip(words, counts, strict=True)))
        merged.update(keys)
        ordered = sorted(merged)
        self.words = array("I", ordered)
        self.counts = array("H", map(min, map(merged.__getitem__, ordered), repeat(0xFFFF)))


@dataclass(frozen=True, slots=True)
class _Doc:
    title: str  # the normalised title's words in sorted order, for a token-sort ratio
    title_keys: frozenset[int]
    keys: frozenset[int]
    names: frozenset[int]
    shingles: frozenset[int]
    summary_words: int
    vector: bytes | None
    rolling: bool  # a live blog or a newsletter (`rolling_page`)


# A word of a text: its normal form, its key (None for a stopword) and its name key (None unless a name).
_Word = tuple[str, str | None, str | None]
# A whitespace-separated token, analysed once: its words' normal forms, and the ids (`_word_id`) of their
# keys with name keys, of their keys without name keys (for the token opening a text), and of their name keys.
_Token = tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
_NORMS, _KEYS, _NAMES = itemgetter(0), itemgetter(1), itemgetter(3)
_COUNT = itemgetter(1)
Evidence = tuple[float, ...]
Observer = Callable[[str, str, Evidence], None]


class ClusterIndex:
    """Streaming clusterer: `assign` each story once, in arrival order.

    `embed`, when given, maps a story's text to a unit vector (`bot.meaning.embedder()`); the model then
    weighs the stories' meaning too (`config.model`), else words alone (`config.lexical_model`).
    `observe`, when given, is called with (story id, candidate story id, evidence) for every candidate a
    story is scored against; the evaluation fits the model's weights from these.
    """

    def __init__(
        self, config: DedupConfig | None = None, observe: Observer | None = None, embed: Embed | None = None
    ) -> None:
        self.config = config or DedupConfig()
        self.model = self.config.model if embed is not None else self.config.lexical_model
        if len(self.model.weights) != len(EVIDENCE):
            raise ValueError(f"dedup: {len(EVIDENCE)} weights needed, got {len(self.model.weights)}")
        self._observe = observe
        self._embed = embed
        self._similarity = embed.similarity if embed is not None else _no_similarity
        p = self.model.join_probability
        self._join_logit = math.log(p / (1 - p)) if 0 < p < 1 else (math.inf if p >= 1 else -math.inf)
        self._members: dict[int, _Member] = {}
        self._clusters: dict[str, _Cluster] = {}
        # The stored stories holding each blocking word, by key, ascending. A posting longer than
        # `max_postings` is never read, so keys of expired stories may linger in it (counted in `_stale`)
        # until a rebuild; a posting short enough to read holds live keys only. Keys count up from 0 and
        # are stored in 32 bits: enough for four billion stories (a century at 100,000 a day).
        self._postings: dict[int, array[int]] = {}
        self._stale: dict[int, int] = {}
        self._df: Counter[int] = Counter()
        self._docs = 0
        self._log_docs = math.log(10)
        # The first stored story of each canonical URL, by the URL's hash (a string would cost 100 bytes a
        # story); entries of expired stories are dropped in batches as they expire.
        self._by_url: dict[int, int] = {}
        self._next = 0
        self._since_expire = 0

    def __len__(self) -> int:
        return len(self._members)

    def assign(self, story: Story, now: datetime) -> ClusterAssignment:
        """Put a new story in a cluster (an existing one, or its own) and index it."""
        when = _when(story, now)
        doc = self._doc(story)
        weights = self._weights(doc)
        blocking = self._blocking_keys(doc)
        found = self._find(story, doc, weights, blocking, when)
        if found is None:
            assignment = ClusterAssignment(story.id, story.id, True)
            self._add(story, doc, weights, assignment.cluster_id, when, blocking)
        else:
            other, reason, score = found
            assignment = ClusterAssignment(story.id, other.cluster_id, False, reason, round(score, 3))
            if self._is_copy(doc, other, reason):
                self._add_copy(story, doc, weights, other, when)
            else:
                self._add(story, doc, weights, assignment.cluster_id, when, blocking)
        self._since_expire += 1
        if self._since_expire >= 1000:
            self.expire(datetime.fromtimestamp(when, UTC))
        return assignment

    def restore(self, story: Story, cluster_id: str, now: datetime) -> None:
        """Index a stored story in its known cluster (after a restart); a copy of a story restored before it
        in that cluster is counted, not stored, as `assign` does."""
        when = _when(story, now)
        if when < now.timestamp() - self.config.window.total_seconds():
            # Published before the window: its words count, but nothing will join it (nor need its meaning).
            self._count(self._doc(story, meaning=False))
            return
        doc = self._doc(story)
        weights = self._weights(doc)
        blocking = self._blocking_keys(doc)
        if cluster_id in self._clusters:
            found = self._find(story, doc, weights, blocking, when)
            if found is not None and found[0].cluster_id == cluster_id and self._is_copy(doc, *found[:2]):
                self._add_copy(story, doc, weights, found[0], when)
                return
        self._add(story, doc, weights, cluster_id, when, blocking)

    def expire(self, now: datetime) -> int:
        """Forget stories older than the window; return how many were dropped."""
        self._since_expire = 0
        cutoff = now.timestamp() - self.config.window.total_seconds()
        old = [key for key, m in self._members.items() if m.when < cutoff]
        for key in old:
            member = self._members.pop(key)
            self._unpost(key, member.blocking)
            # A centroid keeps the words of members that aged out while the cluster lives on.
            cluster = self._clusters[member.cluster_id]
            cluster.size -= 1
            if not cluster.size:
                del self._clusters[member.cluster_id]
        if old:
            members = self._members
            self._by_url = {url: key for url, key in self._by_url.items() if key in members}
        return len(old)

    def sizes(self) -> dict[str, int]:
        """What the index holds (stories, clusters, postings, document frequencies), and the tokens cached
        for every index in the process."""
        return {
            "stories": len(self._members),
            "clusters": len(self._clusters),
            "urls": len(self._by_url),
            "blocking words": len(self._postings),
            "posting entries": sum(map(len, self._postings.values())),
            "document frequencies": len(self._df),
            "cached tokens": _analyse_token.cache_info().currsize,
        }

    def _unpost(self, key: int, words: memoryview) -> None:
        """Take an expired story (already out of `_members`) out of its words' postings.

        Deleting from an array costs a search and a shift, so a long posting (never read) only counts the
        story stale, and is rebuilt once a quarter of it is stale or it becomes short enough to be read.
        """
        postings, stale, members, limit = self._postings, self._stale, self._members, self.config.max_postings
        for word in words:
            posting = postings[word]
            dead = stale.pop(word, 0) + 1
            live = len(posting) - dead
            if not live:
                del postings[word]
            elif dead == 1 and live <= limit:
                posting.remove(key)
            elif live <= limit or 4 * dead >= len(posting):
                postings[word] = array("I", [k for k in posting if k in members])
            else:
                stale[word] = dead

    def _idf(self, word: int) -> float:
        return self._log_docs - math.log(self._df.get(word, 0) + 1)

    def _weights(self, doc: _Doc) -> dict[int, float]:
        """Each key's inverse document frequency, log((docs + 10) / (df + 1)), so far in the stream."""
        keys = list(doc.keys)
        counts = list(map(self._df.get, keys, repeat(0)))
        try:
            logs = list(map(_LOG1P.__getitem__, counts))
        except IndexError:  # a word in more stories than the table holds
            logs = [math.log(n + 1) for n in counts]
        return dict(zip(keys, map(operator.sub, repeat(self._log_docs), logs), strict=True))

    def _add(
        self,
        story: Story,
        doc: _Doc,
        weights: dict[int, float],
        cluster_id: str,
        when: float,
        blocking: list[int],
    ) -> None:
        self._count(doc)
        key = self._next
        self._next += 1
        member = self._members[key] = _member(key, story, doc, weights, cluster_id, blocking, when)
        if story.canonical_url:
            self._by_url.setdefault(hash(story.canonical_url), key)
        postings = self._postings
        for word in blocking:
            if (posting := postings.get(word)) is None:
                postings[word] = array("I", (key,))
            else:
                posting.append(key)
        self._join(cluster_id, doc, weights, member)

    def _is_copy(self, doc: _Doc, original: _Member, reason: str) -> bool:
        """Whether a story that joined `original` is a copy of it, which the index need not store: the same
        URL, or a summary in the same wording (under any headline). A story under a near-identical headline
        with a summary of its own is stored: storing neither of two such write-ups cost recall on the
        labelled set (0.618 -> 0.612), as did not storing a story with no word the original lacks."""
        if reason == "url":
            return True
        return reason in ("title", "summary") and _summary_overlap(doc, original) >= self.config.shingles_same

    def _count(self, doc: _Doc) -> None:
        """Count a story's words in the document frequencies."""
        self._docs += 1
        self._log_docs = math.log(self._docs + 10)
        self._df.update(doc.keys)

    def _add_copy(
        self, story: Story, doc: _Doc, weights: dict[int, float], original: _Member, when: float
    ) -> None:
        """Count a copy of a stored story (`_is_copy`) in its words' frequencies and its cluster's centroid,
        and let the original stand in for it: the copy's URL leads to the original, which stays in the
        window as long as the copy would have."""
        self._count(doc)
        if story.canonical_url:
            self._by_url.setdefault(hash(story.canonical_url), original.key)
        original.when = max(original.when, when)
        self._join(original.cluster_id, doc, weights, original, stored=False)

    def _join(
        self, cluster_id: str, doc: _Doc, weights: dict[int, float], member: _Member, stored: bool = True
    ) -> None:
        """Add a story's words to its cluster's centroid (a new cluster: its first member's)."""
        values = list(weights.values())
        own2 = math.fsum(map(operator.mul, values, values))
        cluster = self._clusters.get(cluster_id)
        if cluster is None:
            self._clusters[cluster_id] = _Cluster(member, None, own2, 1, member.when)
        else:
            cluster.add(doc.keys, cluster.dot(weights, doc.keys), own2, stored)

    def _blocking_keys(self, doc: _Doc) -> list[int]:
        """The title's informative words and the rarest words of the summary: enough to find any copy."""
        # A name's key and its name key ("#...") find the same stories: names add nothing here.
        rest = doc.keys - doc.title_keys - doc.names
        # Words in their alphabetical order, as ties between candidates go to the first word's postings: the
        # choice never depends on the order ids were given in.
        df, word = self._df.get, _WORDS.__getitem__
        rarest = sorted(zip(map(df, rest, repeat(0)), map(word, rest), rest, strict=True))[
            :_RARE_SUMMARY_KEYS
        ]
        return sorted((doc.title_keys - doc.names).union(w for _, _, w in rarest), key=word)

    def _candidates(self, blocking: list[int], doc: _Doc, source: str, when: float) -> list[_Member]:
        """Stored stories within the window sharing the most blocking words with the story, most first.

        A rolling page (a live blog, a newsletter) is a development of its own: its candidates are its own
        outlet's rolling pages, and a report's are reports.
        """
        members, cfg = self._members, self.config
        limit, postings = cfg.max_postings, self._postings
        # A word that many stored stories hold tells little and costs much: it is skipped.
        found = [p for p in map(postings.get, blocking) if p is not None and len(p) <= limit]
        shared = Counter(chain.from_iterable(found))
        floor = max(1, round(cfg.min_block_share * len(blocking)))
        window, rolling = cfg.window.total_seconds(), doc.rolling
        chosen: list[_Member] = []
        for key, count in sorted(shared.items(), key=_COUNT, reverse=True):
            if count < floor or len(chosen) == cfg.max_candidates:
                break
            m = members[key]
            if abs(m.when - when) <= window and m.rolling == rolling and (not rolling or m.source == source):
                chosen.append(m)
        return chosen

    def _find(
        self, story: Story, doc: _Doc, weights: dict[int, float], blocking: list[int], when: float
    ) -> tuple[_Member, str, float] | None:
        cfg = self.config
        window = cfg.window.total_seconds()
        url = story.canonical_url
        if url and (key := self._by_url.get(hash(url))) is not None:
            other = self._members.get(key)
            if other is not None and abs(other.when - when) <= window:
                return other, "url", 1.0
        own = sum(weights.values())
        if own <= 0:
            return None
        candidates = self._candidates(blocking, doc, story.source, when)
        if not candidates:
            return None
        if doc.title:
            titles = [m.title for m in candidates]
            hit = process.extractOne(doc.title, titles, scorer=fuzz.ratio, score_cutoff=cfg.title_same)
            if hit is not None:
                return candidates[hit[2]], "title", hit[1] / 100
        if doc.rolling:  # two live pages are one only by address, headline or wording, never by likeness
            copies = [
                (m, "summary", 1.0 + v)
                for m in candidates
                if (v := _summary_overlap(doc, m)) >= cfg.shingles_same
            ]
            return max(copies, key=itemgetter(2), default=None)
        scorer = _Scorer(self, story, doc, weights, own, when)
        best: tuple[_Member, str, float] | None = None
        for other in candidates:
            verdict = scorer.compare(other, abs(other.when - when))
            if verdict is not None and (best is None or verdict[1] > best[2]):
                best = (other, verdict[0], verdict[1])
        return best

    def _doc(self, story: Story, meaning: bool = True) -> _Doc:
        """Analyse a story: a capitalised word counts as a name except where it opens the text."""
        title_words = prepare(story.title).split()
        head_words = prepare(story.summary).split(maxsplit=_SUMMARY_WORDS)[:_SUMMARY_WORDS]
        title = list(map(_analyse_token, title_words))
        head = list(map(_analyse_token, head_words))
        title_keys = set(chain.from_iterable(map(_KEYS, title[1:])))
        summary_keys = set(chain.from_iterable(map(_KEYS, head[1:])))
        names = set(chain.from_iterable(map(_NAMES, title[1:])))
        names.update(chain.from_iterable(map(_NAMES, head[1:])))
        if title:
            title_keys.update(title[0][2])
        if head:
            summary_keys.update(head[0][2])
        norms = list(chain.from_iterable(map(_NORMS, head)))
        vector = self._embed(title_words + head_words) if self._embed is not None and meaning else None
        return _Doc(
            " ".join(sorted(chain.from_iterable(map(_NORMS, title)))),
            frozenset(title_keys),
            frozenset(title_keys | summary_keys),
            frozenset(names),
            frozenset(map(_shingle_hash, zip(norms, norms[1:], norms[2:], strict=False))),
            len(norms),
            vector,
            rolling_page(story.title, story.url),
        )


class _Scorer:
    """Scores one new story against its candidates; the centroid similarity is computed once per cluster."""

    __slots__ = (
        "index",
        "story",
        "doc",
        "weights",
        "own",
        "own_title",
        "own_names",
        "norm",
        "centroid",
        "when",
        "max_span",
    )

    def __init__(
        self, index: ClusterIndex, story: Story, doc: _Doc, weights: dict[int, float], own: float, when: float
    ) -> None:
        self.index, self.story, self.doc, self.weights, self.own = index, story, doc, weights, own
        self.when, self.max_span = when, index.config.max_span.total_seconds()
        weight_of = weights.__getitem__
        self.own_title = sum(map(weight_of, doc.title_keys))
        self.own_names = sum(map(weight_of, doc.names))
        self.norm = math.sqrt(sum(w * w for w in weights.values()))
        self.centroid: dict[str, float] = {}

    def compare(self, other: _Member, gap: float) -> tuple[str, float] | None:
        """Return why and how strongly the story belongs with `other`, or None."""
        cfg, doc = self.index.config, self.doc
        weight_of = self.weights.__getitem__
        common = doc.keys.intersection(other.key_ids)
        shared = sum(map(weight_of, common))
        sums = other.sums
        overlap = 2 * shared / (self.own + sums[0])
        if overlap < cfg.min_overlap:
            return None
        shingles = 0.0
        if overlap >= cfg.overlap_floor:
            shingles = _summary_overlap(doc, other)
            if shingles >= cfg.shingles_same:
                return "summary", 1.0 + shingles
        cluster = self.index._clusters.get(other.cluster_id)
        if cluster is not None and self.when - cluster.started > self.max_span:
            return None
        evidence = self.evidence(other, sums, gap, common, shared, overlap, shingles)
        model = self.index.model
        z = model.bias + sum(map(operator.mul, model.weights, evidence))
        observe = self.index._observe
        # The centroid costs most and lies in [0, 1]: weigh it only if it could tip the balance.
        if observe is None and z + max(0.0, model.weights[-1]) < self.index._join_logit:
            return None
        evidence += (self.cluster_similarity(other.cluster_id),)
        if observe is not None:
            observe(self.story.id, other.story_id, evidence)
        z += model.weights[-1] * evidence[-1]
        probability = 1 / (1 + math.exp(-z)) if z > -50 else 0.0
        return ("similar", probability) if probability >= model.join_probability else None

    def evidence(
        self,
        other: _Member,
        sums: tuple[float, float, float],
        gap: float,
        common: frozenset[int],
        shared: float,
        overlap: float,
        shingles: float,
    ) -> Evidence:
        """All evidence but the cluster similarity."""
        doc, weight_of = self.doc, self.weights.__getitem__
        weight, title_weight, names_weight = sums
        lighter = min(self.own, weight)
        titles = self.own_title + title_weight
        other_title = other.title_keys
        title_shared = sum(map(weight_of, doc.title_keys.intersection(other_title)))
        mine_there = (
            sum(map(weight_of, doc.title_keys.intersection(other.key_ids))) / self.own_title
            if self.own_title
            else 0.0
        )
        theirs_here = (
            sum(map(weight_of, doc.keys.intersection(other_title))) / title_weight if title_weight else 0.0
        )
        names = self.own_names + names_weight
        return (
            overlap,
            shared / lighter if lighter > 0 else 0.0,
            2 * title_shared / titles if titles > 0 else 0.0,
            min(mine_there, theirs_here),
            2 * sum(map(weight_of, doc.names.intersection(other.names))) / names if names > 0 else 0.0,
            max(map(weight_of, common)) if common else 0.0,
            fuzz.ratio(doc.title, other.title) / 100 if doc.title and other.title else 0.0,
            shingles,
            gap / 3600,
            1.0 if self.story.source and self.story.source == other.source else 0.0,
            self.index._similarity(doc.vector, vector) if doc.vector and (vector := other.vector) else 0.0,
        )

    def cluster_similarity(self, cluster_id: str) -> float:
        """Cosine between the story's word weights and the centroid of the cluster's members."""
        if (known := self.centroid.get(cluster_id)) is not None:
            return known
        cluster = self.index._clusters.get(cluster_id)
        similarity = 0.0
        if cluster is not None and cluster.norm2 > 0 and self.norm > 0:
            similarity = cluster.dot(self.weights, self.doc.keys) / (self.norm * math.sqrt(cluster.norm2))
        self.centroid[cluster_id] = similarity
        return similarity


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


_LOG1P = array("d", [math.log(n + 1) for n in range(100_000)])  # 0.8 MB; a list of floats is 4


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


def _no_similarity(a: bytes, b: bytes | memoryview) -> float:
    return 0.0


def _summary_overlap(doc: _Doc, other: _Member) -> float:
    """The Jaccard overlap of two summaries' shingles; 0 unless both have the 15 words a copy is judged on."""
    if min(doc.summary_words, other.summary_words) < 15:
        return 0.0
    return _jaccard(doc.shingles, other.shingles)


def _jaccard(a: frozenset[int], b: memoryview) -> float:
    """Jaccard overlap of a story's shingles and a stored story's (distinct hashes, as `_member` keeps them)."""
    if not a or not b:
        return 0.0
    shared = len(a.intersection(b))
    return shared / (len(a) + len(b) - shared)


def _shingle_hash(shingle: tuple[str, str, str]) -> int:
    # 32 bits halve a stored story's shingles; two summaries' ~40 shingles each collide by chance once in
    # some 3 million comparisons, and a collision moves their overlap by about 1/80.
    return hash(shingle) & 0xFFFF_FFFF


def _member(
    key: int,
    story: Story,
    doc: _Doc,
    weights: dict[int, float],
    cluster_id: str,
    blocking: list[int],
    when: float,
) -> _Member:
    """A story's stored form, its keys laid out in the runs `_Member` describes."""
    title_names = doc.title_keys & doc.names
    rarest = [w for w in blocking if w not in doc.title_keys]
    plain_title = [w for w in blocking if w in doc.title_keys]
    other_names = doc.names - title_names
    runs = (
        rarest,
        plain_title,
        title_names,
        other_names,
        doc.keys - doc.title_keys - doc.names - set(rarest),
    )
    keys = array("I", chain.from_iterable(runs))
    shingles = array("I", doc.shingles)
    title_from = len(rarest)
    names_from = title_from + len(plain_title)
    title_to = names_from + len(title_names)
    weight_of = weights.__getitem__
    sums = _SUMS.pack(
        sum(weights.values()), sum(map(weight_of, doc.title_keys)), sum(map(weight_of, doc.names))
    )
    return _Member(
        key,
        story.id,
        cluster_id,
        doc.title,
        b"".join((sums, keys.tobytes(), shingles.tobytes(), doc.vector or b"")),
        title_from,
        names_from,
        title_to,
        title_to + len(other_names),
        len(keys),
        len(keys) + len(shingles),
        doc.summary_words,
        when,
        sys.intern(story.source),
        doc.rolling,
    )
