"""What a story is about, as a vector: the dedup model's evidence for reworded coverage of one development.

Two reports of one ruling share few words ("Supreme Court sets new limits on affirmative action" / "US
Supreme Court curbs consideration of race in university admissions") but mean the same. WordLlama's token
embeddings (MIT; distilled from a large language model's token embedding table, 32,000 tokens) are bundled
in its wheel, so nothing is downloaded: a text's vector is the mean of its tokens' vectors, unit length, and
two stories' cosine is their dot product. The first `dims` dimensions are used (the table is trained
Matryoshka-style, so a prefix is a smaller model of its own): 64 scored as well as 256 on the labelled set
(README, "Dedup") at a quarter of the memory per indexed story.
"""

from __future__ import annotations

import importlib.util
import logging
from array import array
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

DIMS = 64
_TOKENS = "tokenizers/l2_supercat_tokenizer_config.json"
_WEIGHTS = "weights/l2_supercat_256.safetensors"
# A story's text is a title and at most a few sentences; a longer text adds nothing to its gist.
_MAX_TOKENS = 128
# Words tokenized so far (news repeats its vocabulary: a cache hit costs ~0.1 us, the tokenizer ~20 us a
# word); cleared when it grows past this many words (~110 bytes each).
_WORD_CACHE = 50_000

_HALF = np.dtype("<f2")
_IDS = np.dtype("=u2")


class Embedder:
    """Maps a text to a unit vector (None when it has no word), cheap enough to call per story.

    Vectors are kept as the bytes of half-precision floats: the index holds one per story of the window
    (161 bytes a story, where a float32 array is 368), and `similarity` reads two without copying.
    """

    def __init__(self, dims: int = DIMS) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        # Only the package's data files are used: importing it would load its own stack (~25 MB).
        spec = importlib.util.find_spec("wordllama")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("the wordllama package is not installed")
        root = Path(next(iter(spec.submodule_search_locations)))
        self._tokenizer = Tokenizer.from_file(str(root / _TOKENS))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        # Each word's token ids, as the bytes of 16-bit integers: a text's ids are then one join of bytes.
        self._words: dict[str, bytes] = {}
        with safe_open(str(root / _WEIGHTS), framework="np", device="cpu") as f:
            weights = f.get_slice("embedding.weight")
            rows, columns = weights.get_shape()
            if not 0 < dims <= columns:
                raise ValueError(f"meaning: dims must be 1-{columns}, got {dims}")
            if rows > 1 << 16:
                raise ValueError(f"meaning: token ids must fit 16 bits, the table has {rows} rows")
            # Only the first `dims` columns are read (the whole table is 16 MB), as float32: 8 MB, where half
            # precision as stored would be 4, but summing half-precision rows takes twice as long.
            self._table: npt.NDArray[np.float32] = np.ascontiguousarray(weights[:, :dims], dtype=np.float32)
        self.dims = dims

    def __call__(self, words: Sequence[str]) -> bytes | None:
        """The unit vector of a text given as its whitespace-separated words (None if it has none)."""
        ids = self._ids(words)
        if not ids:
            return None
        vector = self._table.take(np.frombuffer(ids, _IDS), axis=0).sum(axis=0)
        norm = float(np.sqrt(vector @ vector))
        return (vector / norm).astype(_HALF).tobytes() if norm > 0 else None

    @staticmethod
    def similarity(a: bytes, b: bytes | memoryview) -> float:
        """The cosine of two texts' vectors: -1 to 1, 1 for the same meaning."""
        return float(np.frombuffer(a, _HALF) @ np.frombuffer(b, _HALF))

    def token_ids(self, words: Sequence[str]) -> list[int]:
        """The text's first `_MAX_TOKENS` token ids. A word alone tokenizes as it does in context (the
        tokenizer's pieces never span a space), so each word's ids are looked up in a cache."""
        ids: list[int] = np.frombuffer(self._ids(words), _IDS).tolist()
        return ids

    def _ids(self, words: Sequence[str]) -> bytes:
        """`token_ids` as the bytes of 16-bit integers."""
        cache = self._words
        found = list(map(cache.get, words))
        if None in found:
            if len(cache) >= _WORD_CACHE:
                cache.clear()
            encode = self._tokenizer.encode
            for i in [i for i, ids in enumerate(found) if ids is None]:
                found[i] = cache[words[i]] = array(
                    "H", encode(words[i], add_special_tokens=False).ids
                ).tobytes()
        return b"".join(found)[: 2 * _MAX_TOKENS]  # type: ignore[arg-type]


@cache
def embedder(dims: int = DIMS) -> Embedder | None:
    """The process's embedder, loaded once (~0.3 s); None, with a warning, if its data cannot be loaded."""
    try:
        return Embedder(dims)
    except (ImportError, OSError, KeyError, ValueError) as exc:
        log.warning("dedup: text embeddings unavailable (%s); folding on word evidence alone", exc)
        return None
