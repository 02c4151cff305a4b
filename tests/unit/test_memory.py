"""bot.kernel.memory: freed memory goes back to the system, and threads share few malloc arenas."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot.kernel import memory

# Six threads allocate at once and hold it; glibc's malloc_stats() then names each arena on stderr.
THREADS_ALLOCATING = """
import ctypes, ctypes.util, sys, threading
from bot.kernel.memory import limit_arenas
limited = limit_arenas() if sys.argv[1] == "limit" else False
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
start, hold = threading.Barrier(6), threading.Event()
def work():
    start.wait()  # all six allocate together: each would get an arena of its own
    libc.malloc(64 * 1024)
    hold.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
libc.malloc_stats()
hold.set()
for t in threads: t.join()
print(limited)
"""


def arenas(mode: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", THREADS_ALLOCATING, mode], capture_output=True, text=True,
                          timeout=60, check=True)
    return len(re.findall(r"^Arena \d+:", done.stderr, re.M)), done.stdout.strip()


@pytest.mark.skipif(memory._libc is None, reason="glibc only: elsewhere limit_arenas does nothing")
def test_threads_share_at_most_two_malloc_arenas_once_limited():
    unlimited, _ = arenas("free")
    limited, answered = arenas("limit")
    assert answered == "True"
    assert unlimited > 2 and limited <= memory.ARENAS


def test_without_glibc_nothing_is_done(monkeypatch):
    monkeypatch.setattr(memory, "_libc", None)
    assert memory.limit_arenas() is False
    assert memory.give_back() is False
