"""Give memory back to the operating system after a big job.

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
