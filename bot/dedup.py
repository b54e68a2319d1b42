"""Fold coverage of one story into a cluster, as stories arrive (streaming, sub-quadratic).

A new story joins the cluster of the stored story (within `window`) that it resembles most, if any rule
holds, else it starts its own cluster, named by its id. In order:
1. Same item: the same canonical URL (`bot.urls`).
2. Near-identical headline: rapidfuzz token-sort ratio of the normalised titles >= `title_same`.
3. Syndicated copy: the summaries' word 3-shingles overlap (Jaccard) >= `shingles_same`, on summaries of
   at least 15 words.
4. The same development, reworded: the weighted overlap of the two stories' informative words (title and
   the start of the summary; rare words such as names and places weigh more, by inverse document
   frequency learned from the stream itself) >= `overlap_same`, or >= `overlap_similar` when the titles also
   share that much weight. Numbers and capitalised names both stories carry count extra.
Time proximity matters: the overlap needed rises linearly with the time between the two stories.

Candidates come from an inverted index of informative words (blocking): a story is compared only with
stored stories that share rare words with it, and the weighted overlap is accumulated while the postings
are read, so no story is ever compared with every stored story. Stories older than the window age out.
The index holds plain data and is rebuilt from stored stories with `restore` after a restart.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import repeat

import snowballstemmer
from rapidfuzz import fuzz

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
_SUMMARY_WORDS = 60
_RARE_SUMMARY_KEYS = 8


@dataclass(frozen=True, slots=True)
class DedupConfig:
    window: timedelta = timedelta(hours=48)
    title_same: float = 90.0
    shingles_same: float = 0.6
    # Thresholds measured on tests/data/dedup (python -m evaluation.dedup): the best recall with pairwise
    # precision >= 0.97 on 2,501 hand-labelled stories.
    overlap_same: float = 0.35
    overlap_similar: float = 0.30
    title_overlap_similar: float = 0.40
    time_penalty_per_day: float = 0.08
    max_posting_share: float = 0.005
    min_block_share: float = 0.1
    overlap_floor: float = 0.2
    max_candidates: int = 20


@dataclass(slots=True)
class _Member:
    story_id: str
    cluster_id: str
    title: str
    title_keys: frozenset[str]
    keys: frozenset[str]
    shingles: frozenset[int]
    summary_words: int
    weight: float
    when: float
    url: str
    blocking: list[str]


@dataclass(frozen=True, slots=True)
class _Doc:
    title: str  # the normalised title's words in sorted order, for a token-sort ratio
    title_keys: frozenset[str]
    keys: frozenset[str]
    shingles: frozenset[int]
    summary_words: int


# A word of a text: its normal form, its key (None for a stopword) and its name key (None unless a name).
_Word = tuple[str, str | None, str | None]


class ClusterIndex:
    """Streaming clusterer: `assign` each story once, in arrival order."""

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self._members: dict[int, _Member] = {}
        self._postings: dict[str, dict[int, None]] = {}
        self._df: dict[str, int] = {}
        self._docs = 0
        self._log_docs = math.log(10)
        self._by_url: dict[str, int] = {}
        self._next = 0
        self._since_expire = 0
        self._tokens: dict[str, tuple[_Word, ...]] = {}

    def __len__(self) -> int:
        return len(self._members)

    def assign(self, story: Story, now: datetime) -> ClusterAssignment:
        """Put a new story in a cluster (an existing one, or its own) and index it."""
        when = _when(story, now)
        doc = self._doc(story)
        weights = self._weights(doc)
        blocking = self._blocking_keys(doc)
        found = self._find(story.canonical_url, doc, weights, blocking, when)
        if found is None:
            assignment = ClusterAssignment(story.id, story.id, True)
        else:
            other, reason, score = found
            assignment = ClusterAssignment(story.id, other.cluster_id, False, reason, round(score, 3))
        self._add(story, doc, assignment.cluster_id, when, sum(weights.values()), blocking)
        self._since_expire += 1
        if self._since_expire >= 1000:
            self.expire(datetime.fromtimestamp(when, UTC))
        return assignment

    def restore(self, story: Story, cluster_id: str, now: datetime) -> None:
        """Index a stored story in its known cluster (after a restart)."""
        doc = self._doc(story)
        weight = sum(self._weights(doc).values())
        self._add(story, doc, cluster_id, _when(story, now), weight, self._blocking_keys(doc))

    def expire(self, now: datetime) -> int:
        """Forget stories older than the window; return how many were dropped."""
        self._since_expire = 0
        cutoff = now.timestamp() - self.config.window.total_seconds()
        old = [key for key, m in self._members.items() if m.when < cutoff]
        postings = self._postings
        for key in old:
            member = self._members.pop(key)
            if self._by_url.get(member.url) == key:
                del self._by_url[member.url]
            for word in member.blocking:
                posting = postings[word]
                del posting[key]
                if not posting:
                    del postings[word]
        if len(self._tokens) > 500_000:
            self._tokens.clear()
        return len(old)

    def _idf(self, word: str) -> float:
        return self._log_docs - _log1p(self._df.get(word, 0))

    def _weights(self, doc: _Doc) -> dict[str, float]:
        df, log_docs = self._df.get, self._log_docs
        return {w: log_docs - _log1p(df(w, 0)) for w in doc.keys}

    def _add(
        self, story: Story, doc: _Doc, cluster_id: str, when: float, weight: float, blocking: list[str]
    ) -> None:
        self._docs += 1
        self._log_docs = math.log(self._docs + 10)
        df = self._df
        for word in doc.keys:
            df[word] = df.get(word, 0) + 1
        key = self._next
        self._next += 1
        self._members[key] = _Member(
            story.id,
            cluster_id,
            doc.title,
            doc.title_keys,
            doc.keys,
            doc.shingles,
            doc.summary_words,
            weight,
            when,
            story.canonical_url,
            blocking,
        )
        if story.canonical_url:
            self._by_url.setdefault(story.canonical_url, key)
        postings = self._postings
        for word in blocking:
            if (posting := postings.get(word)) is None:
                postings[word] = {key: None}
            else:
                posting[key] = None

    def _blocking_keys(self, doc: _Doc) -> list[str]:
        """The title's informative words and the rarest words of the summary: enough to find any copy."""
        rest = sorted(doc.keys - doc.title_keys)
        rarest = sorted(zip(map(self._df.get, rest, repeat(0)), rest, strict=True))[:_RARE_SUMMARY_KEYS]
        return sorted(doc.title_keys.union(w for _, w in rarest))

    def _find(
        self, url: str, doc: _Doc, weights: dict[str, float], blocking: list[str], when: float
    ) -> tuple[_Member, str, float] | None:
        cfg = self.config
        window = cfg.window.total_seconds()
        members = self._members
        if url and (key := self._by_url.get(url)) is not None:
            other = members.get(key)
            if other is not None and abs(other.when - when) <= window:
                return other, "url", 1.0
        own = sum(weights.values())
        own_block = sum(weights[w] for w in blocking)
        if own <= 0 or own_block <= 0:
            return None
        limit = max(50, int(len(members) * cfg.max_posting_share))
        shared: dict[int, float] = {}
        get, postings = shared.get, self._postings
        for word in blocking:
            posting = postings.get(word)
            if posting is None or len(posting) > limit:
                continue
            idf = weights[word]
            for key in posting:
                shared[key] = get(key, 0.0) + idf
        floor = cfg.min_block_share * own_block
        ranked = sorted([kv for kv in shared.items() if kv[1] >= floor], key=_second, reverse=True)
        weight_of = weights.__getitem__
        best: tuple[_Member, str, float] | None = None
        for key, _ in ranked[: cfg.max_candidates]:
            other = members[key]
            gap = abs(other.when - when)
            if gap > window:
                continue
            overlap = 2 * sum(map(weight_of, doc.keys & other.keys)) / (own + other.weight)
            verdict = self._compare(doc, weights, other, overlap, gap)
            if verdict is not None and (best is None or verdict[1] > best[2]):
                best = (other, verdict[0], verdict[1])
        return best

    def _compare(
        self, doc: _Doc, weights: dict[str, float], other: _Member, overlap: float, gap: float
    ) -> tuple[str, float] | None:
        cfg = self.config
        if doc.title and other.title and fuzz.ratio(doc.title, other.title, score_cutoff=cfg.title_same):
            return "title", 1.0
        if overlap < cfg.overlap_floor:
            return None  # copies of one text share most of their words; below this nothing else can hold
        if min(doc.summary_words, other.summary_words) >= 15:
            jaccard = _jaccard(doc.shingles, other.shingles)
            if jaccard >= cfg.shingles_same:
                return "summary", jaccard
        penalty = cfg.time_penalty_per_day * gap / 86400
        if overlap >= cfg.overlap_same + penalty:
            return "overlap", overlap
        if overlap >= cfg.overlap_similar + penalty:
            title_overlap = self._title_overlap(doc.title_keys, other.title_keys, weights)
            if title_overlap >= cfg.title_overlap_similar + penalty:
                return "overlap+title", overlap
        return None

    def _title_overlap(self, a: frozenset[str], b: frozenset[str], weights: dict[str, float]) -> float:
        if not a or not b:
            return 0.0
        shared = sum(weights.get(w, 0.0) for w in a & b)
        total = sum(weights.get(w, 0.0) for w in a) + sum(self._idf(w) for w in b)
        return 2 * shared / total if total else 0.0

    def _words(self, text: str) -> list[_Word]:
        """Return a text's words; each whitespace-separated token is split and analysed once, then cached."""
        words: list[_Word] = []
        cache = self._tokens
        for token in text.split():
            found = cache.get(token)
            if found is None:
                found = cache[token] = tuple(map(_analyse, WORD.findall(_ACRONYM.sub(_undot, token))))
            words += found
        return words

    def _doc(self, story: Story) -> _Doc:
        title = self._words(prepare(story.title))
        summary = self._words(prepare(story.summary))
        head = summary[:_SUMMARY_WORDS]
        title_keys = {w[1] for w in title if w[1]} | {w[2] for w in title[1:] if w[2]}
        summary_keys = {w[1] for w in head if w[1]} | {w[2] for w in head[1:] if w[2]}
        norms = [w[0] for w in summary]
        return _Doc(
            " ".join(sorted(w[0] for w in title)),
            frozenset(title_keys),
            frozenset(title_keys | summary_keys),
            frozenset(map(hash, zip(norms, norms[1:], norms[2:], strict=False))),
            len(summary),
        )


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


def _second(pair: tuple[int, float]) -> float:
    return pair[1]


_LOG1P = [math.log(k + 1) for k in range(100_000)]


def _log1p(count: int) -> float:
    return _LOG1P[count] if count < 100_000 else math.log(count + 1)


_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,}")


def _undot(m: re.Match[str]) -> str:
    return m.group().replace(".", "")


def _when(story: Story, now: datetime) -> float:
    published = story.published
    if published is None or published > now + timedelta(hours=1):
        return now.timestamp()
    return published.timestamp()


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
