"""Types of the dedup index's native core (bot/_dedupcore.pyx)."""

from collections.abc import Callable

_Token = tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]

def half_dot(a: bytes, b: bytes, /) -> float: ...

class Doc:
    def weights_by_key(self) -> dict[int, float]: ...

class Member:
    key: int
    story_id: str
    cluster_id: str
    title: str
    when: float

class Cluster:
    def dot_with(self, doc: Doc) -> float: ...
    def counts_by_key(self) -> dict[int, int]: ...

class Core:
    def __init__(
        self,
        words: list[str],
        window: float,
        title_same: float,
        shingles_same: float,
        max_postings: int,
        min_block_share: float,
        overlap_floor: float,
        min_overlap: float,
        max_candidates: int,
        max_span: float,
        weights: tuple[float, ...],
        bias: float,
        join_probability: float,
        observe: Callable[[str, str, tuple[float, ...]], None] | None,
    ) -> None: ...
    def __len__(self) -> int: ...
    def doc(
        self,
        story_id: str,
        title: list[_Token],
        head: list[_Token],
        title_text: str,
        vector: bytes | None,
        rolling: bool,
        source: str,
        weigh: bool = ...,
    ) -> Doc: ...
    def count(self, doc: Doc) -> None: ...
    def assign(
        self, doc: Doc, story_id: str, url: int | None, when: float
    ) -> tuple[str, bool, str, float]: ...
    def restore(self, doc: Doc, story_id: str, cluster_id: str, url: int | None, when: float) -> None: ...
    def add(self, doc: Doc, story_id: str, cluster_id: str, url: int | None, when: float) -> None: ...
    def add_copy(self, doc: Doc, original: Member, url: int | None, when: float) -> None: ...
    def find(self, doc: Doc, url: int | None, when: float) -> tuple[Member, str, float] | None: ...
    def expire(self, cutoff: float) -> int: ...
    def sizes(self) -> dict[str, int]: ...
    def cluster(self, cluster_id: str) -> Cluster | None: ...
