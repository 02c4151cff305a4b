"""The person behind an update, read together with those of the updates waiting behind it.

Every update needs its sender's person (roles, unit) before anything else: the gate lets nobody
else through and the views show what that person may see. Read one update at a time, that read
is most of what a /help costs. During a burst (the morning digest read by the whole county, a
broadcast answered, someone paging through a list) updates wait in the Application's queue, so
when an update's person is needed, the senders of the updates waiting behind it are read in the
same statement, and the copies serve those updates when their turn comes.

A copy is the database's word on the person a moment ago, and is used only while it still is:
not after anything wrote the directory through this process (``Database.directory_writes``: a
role given, a binding changed, someone deactivated, by an earlier update or a sweep), and never
once it is older than ``FRESH`` (another process, such as a directory import, changes the directory
unseen: it shows within that time). Actions re-read their actor in their own transaction all the
same (``bot.domain.acting``); the copies spare the gate and the read-only views a statement each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from bot.domain.directory import people_by_telegram_ids

if TYPE_CHECKING:
    from store.db import Database
    from store.models import Person

AHEAD = 100  # waiting updates looked at; their senders are read along (100 ids in one statement)
FRESH = 2.0  # seconds a copy may be used after it was read
MAX_HELD = 2000  # copies held at most; past that all are dropped (they are seconds old at most)


class Senders:
    def __init__(self, db: Database, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self._monotonic = monotonic
        # telegram id -> (the person, or None for a stranger; directory_writes then; read at)
        self._copies: dict[int, tuple[Person | None, int, float]] = {}

    async def person(self, telegram_id: int, waiting: Callable[[], Iterable[int]] = tuple) -> Person | None:
        """The active person on this account; the ``waiting()`` senders' are read along."""
        if self._held(telegram_id):
            return self._copies[telegram_id][0]
        ahead = [s for s in dict.fromkeys(waiting()) if s != telegram_id and not self._held(s)][: AHEAD - 1]
        writes, read_at = self.db.directory_writes, self._monotonic()  # before: a write meanwhile voids
        async with self.db.session() as s:
            people = {p.telegram_id: p for p in await people_by_telegram_ids(s, [telegram_id, *ahead])}
        if len(self._copies) + len(ahead) >= MAX_HELD:
            self._copies.clear()
        for sender in (telegram_id, *ahead):
            self._copies[sender] = (people.get(sender), writes, read_at)
        return people.get(telegram_id)

    def _usable(self, copy: tuple[Person | None, int, float]) -> bool:
        _, writes, read_at = copy
        return writes == self.db.directory_writes and self._monotonic() - read_at <= FRESH

    def _held(self, telegram_id: int) -> bool:
        copy = self._copies.get(telegram_id)
        return copy is not None and self._usable(copy)
