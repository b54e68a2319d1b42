"""Give memory the process has freed back to the system (glibc's malloc; a no-op elsewhere).

CPython keeps its small objects in arenas of its own, but larger blocks (dict tables, parsed feed
documents, SQLite pages, the dedup index's arrays) come from the C library's malloc. glibc returns freed
memory at the top of its heap by itself, but free blocks between blocks still in use stay resident until
`malloc_trim` is called. A poller parses thousands of documents while its dedup index grows among their
remains, so without trimming the process holds tens of megabytes it does not use: on the polling benchmark
(README, "Polling") trimming every few seconds lowered the peak by 12 MB and kept it from creeping up over
later cycles.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable
from functools import cache

# A trim walks the heap's free blocks: about 10 ms for a 300 MB heap, so every few seconds is plenty.
TRIM_EVERY = 5.0


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS, Windows)."""
    try:  # the symbols already loaded into the process: no search (find_library runs a subprocess)
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        try:
            trim = ctypes.CDLL(name).malloc_trim
        except (OSError, AttributeError):
            return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


class Trimmer:
    """Calls `malloc_trim` at most once every `every` seconds, however often it is asked to."""

    def __init__(self, every: float = TRIM_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every, self.clock = every, clock
        self._last = -float("inf")
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return _malloc_trim() is not None

    def __call__(self) -> bool:
        """Trim if it is due and the C library can; return whether it did."""
        trim = _malloc_trim()
        now = self.clock()
        if trim is None or now - self._last < self.every or not self._lock.acquire(blocking=False):
            return False
        try:
            self._last = now
            trim(0)
        finally:
            self._lock.release()
        return True


# The process's trimmer: one heap, however many pollers share it.
trim_if_due = Trimmer()
