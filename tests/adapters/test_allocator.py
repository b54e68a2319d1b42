"""Giving freed memory back to the system (glibc's malloc_trim)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bot.allocator import Trimmer


def test_trims_at_most_once_per_interval() -> None:
    now = [100.0]
    trimmer = Trimmer(every=5.0, clock=lambda: now[0])
    if not trimmer.available:
        pytest.skip("the C library has no malloc_trim")
    assert trimmer() is True
    now[0] += 4.9
    assert trimmer() is False
    now[0] += 0.2
    assert trimmer() is True


def test_a_trim_hands_back_memory_freed_between_blocks_in_use() -> None:
    if not Trimmer().available:
        pytest.skip("the C library has no malloc_trim")
    # In a fresh interpreter: fill the heap with 60 KB blocks (from malloc, below its mmap threshold), free
    # every other one, and see how much of the freed half stays resident before and after a trim.
    script = textwrap.dedent(
        """
        from bot.allocator import Trimmer

        def resident_mb():
            return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

        start = resident_mb()
        blocks = [bytearray(60_000) for _ in range(1_000)]
        full = resident_mb()
        del blocks[::2]
        freed = resident_mb()
        assert Trimmer(every=0)()
        print(full - start, freed - start, resident_mb() - start)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    full, freed, trimmed = map(float, out.split())  # MB resident for the blocks
    assert full > 50
    assert freed > 0.9 * full  # glibc keeps the freed half: it lies between blocks in use
    assert trimmed < 0.75 * full  # a trim hands most of it back
