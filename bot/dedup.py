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
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rapidfuzz import fuzz

from bot.model import ClusterAssignment, Story
from bot.normalize import Token, prepare, tokenize

STOPWORDS = frozenset(
    "a an and are as at be been being but by for from had has have he her hers him his i if in into is it its "
    "me my of on or our ours she so than that the their theirs them then there these they this those to too "
    "us was we were what when where which while who whom why will with would you your yours after over about "
    "new news says said say more up out not no can could may might just also how s t amp via live latest "
    "update updates watch video read one two first last year years day days week time get gets got make "
    "makes made take takes back still now here all any some most much many other such only own same very".split()
)
_SUMMARY_WORDS = 60


@dataclass(frozen=True, slots=True)
class DedupConfig:
    window: timedelta = timedelta(hours=48)
    title_same: float = 90.0
    shingles_same: float = 0.6
    overlap_same: float = 0.55
    overlap_similar: float = 0.40
    title_overlap_similar: float = 0.45
    time_penalty_per_day: float = 0.08
    max_posting_share: float = 0.02
    max_candidates: int = 30


@dataclass(slots=True)
class _Member:
    story_id: str
    cluster_id: str
    title: str
    title_keys: frozenset[str]
    shingles: array[int]
    summary_words: int
    weight: float
    when: float
    url: str


@dataclass(frozen=True, slots=True)
class _Doc:
    title: str
    title_keys: frozenset[str]
    keys: frozenset[str]
    shingles: array[int]
    summary_words: int


class ClusterIndex:
    """Streaming clusterer: `assign` each story once, in arrival order."""

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self._members: dict[int, _Member] = {}
        self._postings: dict[str, list[int]] = {}
        self._df: Counter[str] = Counter()
        self._docs = 0
        self._by_url: dict[str, int] = {}
        self._next = 0
        self._since_expire = 0

    def __len__(self) -> int:
        return len(self._members)

    def assign(self, story: Story, now: datetime) -> ClusterAssignment:
        """Put a new story in a cluster (an existing one, or its own) and index it."""
        when = _when(story, now)
        doc = _doc(story)
        found = self._find(story.canonical_url, doc, when)
        if found is None:
            assignment = ClusterAssignment(story.id, story.id, True)
        else:
            other, reason, score = found
            assignment = ClusterAssignment(story.id, other.cluster_id, False, reason, round(score, 3))
        self._add(story, doc, assignment.cluster_id, when)
        self._since_expire += 1
        if self._since_expire >= 5000:
            self.expire(datetime.fromtimestamp(when, UTC))
        return assignment

    def restore(self, story: Story, cluster_id: str, now: datetime) -> None:
        """Index a stored story in its known cluster (after a restart)."""
        self._add(story, _doc(story), cluster_id, _when(story, now))

    def expire(self, now: datetime) -> int:
        """Forget stories older than the window; return how many were dropped."""
        self._since_expire = 0
        cutoff = now.timestamp() - self.config.window.total_seconds()
        old = [key for key, m in self._members.items() if m.when < cutoff]
        for key in old:
            member = self._members.pop(key)
            if self._by_url.get(member.url) == key:
                del self._by_url[member.url]
        if old:
            alive = self._members
            self._postings = {
                w: kept for w, ids in self._postings.items() if (kept := [i for i in ids if i in alive])
            }
        return len(old)

    def _idf(self, word: str) -> float:
        return math.log((self._docs + 10) / (self._df[word] + 1))

    def _add(self, story: Story, doc: _Doc, cluster_id: str, when: float) -> None:
        self._docs += 1
        self._df.update(doc.keys)
        key = self._next
        self._next += 1
        weight = sum(self._idf(w) for w in doc.keys)
        self._members[key] = _Member(
            story.id,
            cluster_id,
            doc.title,
            doc.title_keys,
            doc.shingles,
            doc.summary_words,
            weight,
            when,
            story.canonical_url,
        )
        if story.canonical_url:
            self._by_url.setdefault(story.canonical_url, key)
        for word in doc.keys:
            self._postings.setdefault(word, []).append(key)

    def _find(self, url: str, doc: _Doc, when: float) -> tuple[_Member, str, float] | None:
        cfg = self.config
        window = cfg.window.total_seconds()
        if url and (key := self._by_url.get(url)) is not None:
            other = self._members.get(key)
            if other is not None and abs(other.when - when) <= window:
                return other, "url", 1.0
        weights = {w: self._idf(w) for w in doc.keys}
        own = sum(weights.values())
        if own <= 0:
            return None
        limit = max(50, int(self._docs * cfg.max_posting_share))
        shared: dict[int, float] = {}
        for word, idf in weights.items():
            posting = self._postings.get(word)
            if posting is None or len(posting) > limit:
                continue
            for key in posting:
                shared[key] = shared.get(key, 0.0) + idf
        ranked = sorted(
            shared.items(), key=lambda kv: kv[1] / (own + self._members[kv[0]].weight), reverse=True
        )
        best: tuple[_Member, str, float] | None = None
        for key, overlap in ranked[: cfg.max_candidates]:
            other = self._members[key]
            gap = abs(other.when - when)
            if gap > window:
                continue
            verdict = self._compare(doc, weights, other, 2 * overlap / (own + other.weight), gap)
            if verdict is not None and (best is None or verdict[1] > best[2]):
                best = (other, verdict[0], verdict[1])
        return best

    def _compare(
        self, doc: _Doc, weights: dict[str, float], other: _Member, overlap: float, gap: float
    ) -> tuple[str, float] | None:
        cfg = self.config
        if doc.title and other.title and fuzz.token_sort_ratio(doc.title, other.title) >= cfg.title_same:
            return "title", 1.0
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


def _when(story: Story, now: datetime) -> float:
    published = story.published
    if published is None or published > now + timedelta(hours=1):
        return now.timestamp()
    return published.timestamp()


def _informative(tokens: list[Token], text: str) -> set[str]:
    keys = set()
    for i, token in enumerate(tokens):
        word = token.norm
        if word in STOPWORDS or (len(word) < 3 and not word.isdigit()):
            continue
        keys.add(word)
        if token.capitalised and i > 0 and not text[token.start : token.end].isupper():
            keys.add(f"#{word}")  # a capitalised word mid-sentence: a name, a place, an institution
        elif word.isdigit():
            keys.add(f"#{word}")
    return keys


def _doc(story: Story) -> _Doc:
    title_text = prepare(story.title)
    summary_text = prepare(story.summary)
    title_tokens = tokenize(title_text)
    summary_tokens = tokenize(summary_text)
    title_keys = _informative(title_tokens, title_text)
    keys = title_keys | _informative(summary_tokens[:_SUMMARY_WORDS], summary_text)
    words = [t.norm for t in summary_tokens]
    shingles = array(
        "I", sorted({zlib.crc32(" ".join(words[i : i + 3]).encode()) for i in range(len(words) - 2)})
    )
    return _Doc(
        " ".join(t.norm for t in title_tokens), frozenset(title_keys), frozenset(keys), shingles, len(words)
    )


def _jaccard(a: array[int], b: array[int]) -> float:
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb)
