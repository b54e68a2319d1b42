"""Fold near-identical coverage of one story into a cluster, as stories arrive.

Rules, in order (a story joins the cluster of the first stored story that satisfies one):
1. The same canonical URL (`bot.urls`), within the window.
2. A near-identical headline: rapidfuzz token-sort ratio of the normalised titles >= `title_same`.
3. A reworded headline over the same text: title ratio >= `title_similar` and the Jaccard overlap of the
   summaries' word 3-shingles >= `summary_similar`.
4. The same summary under any headline: shingle overlap >= `summary_same`, on summaries of 15+ words.
Only stories within `window` of each other are compared. A cluster is named by the id of its first story.

Candidates come from an inverted index of title and summary words (blocking): a new story is compared only
with stored stories that share at least two informative words with it, never with every stored story.
Words that appear in very many stored stories carry no signal and are not used as keys.
The index holds plain data and can be rebuilt from stored stories with `restore`.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from bot.model import ClusterAssignment, Story
from bot.normalize import words

STOPWORDS = frozenset(
    "a an and are as at be been but by for from has have he her his i in is it its of on or our she that the "
    "their them they this to was were what when where which who will with would you after over about new "
    "says said say more than up out into not no can could may might just also how why s".split()
)


@dataclass(frozen=True, slots=True)
class DedupConfig:
    window: timedelta = timedelta(hours=48)
    title_same: float = 92.0
    title_similar: float = 70.0
    summary_similar: float = 0.35
    summary_same: float = 0.7
    max_posting: int = 3000
    max_candidates: int = 200


@dataclass(frozen=True, slots=True)
class _Member:
    story_id: str
    cluster_id: str
    title: str
    shingles: frozenset[int]
    summary_words: int
    when: datetime
    url: str


class ClusterIndex:
    """Streaming clusterer: `assign` each story once, in arrival order."""

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self._members: dict[int, _Member] = {}
        self._postings: dict[str, list[int]] = {}
        self._by_url: dict[str, int] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._members)

    def assign(self, story: Story, now: datetime) -> ClusterAssignment:
        """Put a new story in a cluster (an existing one, or its own) and index it."""
        when = _when(story, now)
        member = _member(story, story.id, when)
        found = self._find(member, _keys(story))
        if found is None:
            assignment = ClusterAssignment(story.id, story.id, True)
        else:
            other, reason, score = found
            assignment = ClusterAssignment(story.id, other.cluster_id, False, reason, score)
        self._add(_member(story, assignment.cluster_id, when), _keys(story))
        return assignment

    def restore(self, story: Story, cluster_id: str, now: datetime) -> None:
        """Index a stored story in its known cluster (after a restart)."""
        self._add(_member(story, cluster_id, _when(story, now)), _keys(story))

    def expire(self, now: datetime) -> int:
        """Forget stories older than the window; return how many were dropped."""
        cutoff = now - self.config.window
        old = [key for key, m in self._members.items() if m.when < cutoff]
        for key in old:
            member = self._members.pop(key)
            if self._by_url.get(member.url) == key:
                del self._by_url[member.url]
        if old:
            alive = self._members
            self._postings = {w: kept for w, ids in self._postings.items() if (kept := [i for i in ids if i in alive])}
        return len(old)

    def _add(self, member: _Member, keys: Iterable[str]) -> None:
        key = self._next
        self._next += 1
        self._members[key] = member
        if member.url:
            self._by_url.setdefault(member.url, key)
        for word in keys:
            self._postings.setdefault(word, []).append(key)

    def _find(self, new: _Member, keys: set[str]) -> tuple[_Member, str, float] | None:
        cfg = self.config
        if new.url and (key := self._by_url.get(new.url)) is not None:
            other = self._members.get(key)
            if other is not None and abs(other.when - new.when) <= cfg.window:
                return other, "url", 100.0
        shared: Counter[int] = Counter()
        for word in keys:
            posting = self._postings.get(word)
            if posting is not None and len(posting) <= cfg.max_posting:
                shared.update(posting)
        need = 2 if len(keys) >= 4 else 1
        best: tuple[_Member, str, float] | None = None
        for key, count in shared.most_common(cfg.max_candidates):
            if count < need:
                break
            other = self._members.get(key)
            if other is None or abs(other.when - new.when) > cfg.window:
                continue
            verdict = self._compare(new, other)
            if verdict is not None and (best is None or verdict[1] > best[2]):
                best = (other, verdict[0], verdict[1])
        return best

    def _compare(self, a: _Member, b: _Member) -> tuple[str, float] | None:
        cfg = self.config
        title = fuzz.token_sort_ratio(a.title, b.title) if a.title and b.title else 0.0
        if title >= cfg.title_same:
            return "title", title
        overlap = _jaccard(a.shingles, b.shingles)
        if title >= cfg.title_similar and overlap >= cfg.summary_similar:
            return "title+summary", (title + 100 * overlap) / 2
        if overlap >= cfg.summary_same and min(a.summary_words, b.summary_words) >= 15:
            return "summary", 100 * overlap
        return None


def _when(story: Story, now: datetime) -> datetime:
    published = story.published
    if published is None or published > now + timedelta(hours=1):
        return now
    return published


def _member(story: Story, cluster_id: str, when: datetime) -> _Member:
    summary = words(story.summary)
    return _Member(
        story_id=story.id,
        cluster_id=cluster_id,
        title=" ".join(words(story.title)),
        shingles=frozenset(zlib.crc32(" ".join(summary[i : i + 3]).encode()) for i in range(len(summary) - 2)),
        summary_words=len(summary),
        when=when,
        url=story.canonical_url,
    )


def _keys(story: Story) -> set[str]:
    title = {w for w in words(story.title) if len(w) > 2 and w not in STOPWORDS}
    return title | {f"~{w}" for w in words(story.summary)[:60] if len(w) > 3 and w not in STOPWORDS}


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
