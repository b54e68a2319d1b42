"""Text embeddings for dedup: loaded offline from the installed wheel, and saying what texts mean."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from bot import meaning
from bot.meaning import Embedder, embedder
from tests.conftest import DATA


def vector(text: str) -> np.ndarray:
    found = embedder()
    assert found is not None
    v = found(text.split())
    assert v is not None
    return np.frombuffer(v, np.float16).astype(np.float32)


def test_the_bundled_model_loads_without_a_download() -> None:
    found = embedder()
    assert found is not None and found.dims == meaning.DIMS
    assert embedder() is found  # loaded once per process


def test_vectors_are_unit_length_and_deterministic() -> None:
    a = vector("Rishi Sunak sacks Suella Braverman as home secretary")
    assert a.shape == (meaning.DIMS,)
    assert float(a @ a) == pytest.approx(1.0, abs=1e-3)
    assert np.array_equal(a, vector("Rishi Sunak sacks Suella Braverman as home secretary"))


def test_a_reworded_report_is_closer_than_another_story_about_the_same_court() -> None:
    ruling = vector("Supreme Court sets new limits on affirmative action")
    reworded = vector("US Supreme Court curbs consideration of race in university admissions")
    other = vector("Supreme Court hears challenge to student loan forgiveness plan")
    unrelated = vector("Braverman sacked as home secretary after row over police")
    found = embedder()
    assert found is not None
    words = "Supreme Court sets new limits on affirmative action".split()
    twice = found(words)
    assert twice is not None and found.similarity(twice, twice) == pytest.approx(1.0, abs=1e-3)
    assert float(ruling @ reworded) > float(ruling @ other) + 0.05
    assert float(ruling @ reworded) > float(ruling @ unrelated) + 0.3


def test_word_by_word_tokens_equal_the_whole_text_tokens() -> None:
    """Each word's tokens are cached; on real headlines and summaries that changes nothing."""
    found = embedder()
    assert found is not None
    lines = (DATA / "dedup" / "stories.jsonl").read_text().splitlines()[:400]
    for record in map(json.loads, lines):
        words = f"{record['title']} {record.get('summary') or ''}".split()
        whole = found._tokenizer.encode(" ".join(words), add_special_tokens=False).ids
        assert found.token_ids(words) == whole[: meaning._MAX_TOKENS]


def test_the_prefix_gives_the_vectors_of_the_whole_table() -> None:
    """Only the first DIMS columns are kept (as float32); vectors are those of the whole table's prefix,
    byte for byte."""
    from safetensors.numpy import load_file

    found = embedder()
    assert found is not None
    assert found._table.dtype == np.float32 and found._table.shape == (32_000, meaning.DIMS)
    spec = importlib.util.find_spec("wordllama")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    table = load_file(str(root / meaning._WEIGHTS))["embedding.weight"][:, : meaning.DIMS].astype(np.float32)
    for line in (DATA / "dedup" / "stories.jsonl").read_text().splitlines()[:400]:
        record = json.loads(line)
        words = f"{record['title']} {record.get('summary') or ''}".split()
        total = table.take(found.token_ids(words), axis=0).sum(axis=0)
        assert found(words) == (total / np.sqrt(total @ total)).astype(np.float16).tobytes()


@pytest.mark.parametrize("text", ["", "   ", "\u200b", "🙂🙂", "\x00\x01", "a" * 10_000, "word " * 5_000])
def test_odd_text_gives_a_vector_or_none_never_an_error(text: str) -> None:
    found = embedder()
    assert found is not None
    v = found(text.split())
    if not text.split():
        assert v is None
    assert v is None or found.similarity(v, v) == pytest.approx(1.0, abs=1e-3)
    assert len(found.token_ids(text.split())) <= meaning._MAX_TOKENS


def test_the_word_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meaning, "_WORD_CACHE", 50)
    fresh = Embedder()
    for i in range(40):
        fresh([f"word{i}-{j}" for j in range(10)])
        assert len(fresh._words) <= 50 + 10
    assert fresh(["Starmer"]) is not None


def test_a_missing_model_leaves_dedup_on_words_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meaning, "_WEIGHTS", "weights/none.safetensors")
    meaning.embedder.cache_clear()
    try:
        assert meaning.embedder() is None
    finally:
        meaning.embedder.cache_clear()


def test_the_dedup_cores_cosine_is_numpys_to_the_last_bit() -> None:
    """The index computes the cosine of two stored vectors natively (bot._dedupcore.half_dot): it gives what
    numpy gives, half-precision floats summed in single precision and rounded to half, on real vectors and
    on ones whose sums fall on and near the rounding edges."""
    from bot._dedupcore import half_dot

    found = embedder()
    assert found is not None
    lines = (DATA / "dedup" / "stories.jsonl").read_text().splitlines()[:400]
    vectors = [
        v
        for line in lines
        if (v := found(f"{(s := json.loads(line))['title']} {s.get('summary') or ''}".split()))
    ]
    rng = np.random.default_rng(3)
    vectors += [rng.standard_normal(meaning.DIMS).astype(np.float16).tobytes() for _ in range(200)]
    vectors += [(rng.standard_normal(meaning.DIMS) * 1e-3).astype(np.float16).tobytes() for _ in range(50)]
    vectors += [np.full(meaning.DIMS, 200.0, np.float16).tobytes()]  # a sum past half precision's range
    assert len(vectors) > 600
    pairs = [(a, b) for a in vectors[::7] for b in vectors[::5]]
    assert [half_dot(a, b) for a, b in pairs] == [Embedder.similarity(a, b) for a, b in pairs]
