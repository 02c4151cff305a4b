"""Give memory back to the operating system after a big job, and keep the freed memory in few places.

A sweep or an export at county scale reads 100,000s of rows; Python frees the objects afterwards,
but glibc keeps the freed pages in the process (a later job would reuse them), so the bot's
resident size stays at its high-water mark for the rest of its life. ``malloc_trim(0)`` hands the
free pages back. Elsewhere (musl, macOS) there is no such call and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("duban.memory")

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2  # the main thread's, and one for every other thread (aiosqlite's, an export's worker)

_libc: ctypes.CDLL | None = None
try:
    _name = ctypes.util.find_library("c")
    _libc = ctypes.CDLL(_name) if _name else None
    if _libc is not None and not hasattr(_libc, "malloc_trim"):
        _libc = None
except OSError:  # no C library to load: nothing to trim
    _libc = None


def give_back() -> bool:
    """Collect cycles, then return free heap pages to the system; True when the trim ran."""
    gc.collect()
    if _libc is None:
        return False
    _libc.malloc_trim(0)
    return True


def limit_arenas(count: int = ARENAS) -> bool:
    """At most ``count`` malloc arenas in the process (glibc; elsewhere nothing is done). True when set.

    glibc gives threads arenas of their own, up to eight per core: each aiosqlite connection's
    thread and each export's worker kept the pages it freed in its own arena, where ``malloc_trim``
    cannot hand them back while one block of a page is in use. ``bench/memory.py`` (100,000 items):
    the bot after /export items 221 MB without the limit, 199–212 with it; after /export scores 207
    and 195–196. Call it before any thread starts: arenas already made stay."""
    if _libc is None:
        return False
    return bool(_libc.mallopt(M_ARENA_MAX, count))
