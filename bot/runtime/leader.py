"""Which instance leads: a PostgreSQL session-level advisory lock on a connection of its own.

Several bot processes may share one PostgreSQL. Exactly one of them — the holder of the advisory
lock ``LEADER_KEY`` — polls Telegram for updates (polling mode) and drains the outbox (both
modes); the others stand by and try to take the lock every ``retry_seconds``.

* The lock belongs to a session, so it goes with the connection: when the leader dies (kill -9
  closes its socket) PostgreSQL frees it at once and a standby takes it at its next try. A
  leader's host that vanishes without closing its socket is noticed by PostgreSQL's TCP
  keepalives, which this connection turns down to a few seconds (``KEEPALIVES``).
* A leader that loses its lock connection (a server restart, pg_terminate_backend, a network
  cut) must stop at once, because a standby may already hold the lock: asyncpg reports the
  closed connection immediately (a termination listener) and a heartbeat query every
  ``heartbeat_seconds`` (with a timeout) catches a silent one. Then ``on_deposed`` runs and the
  instance stands by again.

``LocalLeadership`` is the single-process case (SQLite, where a file lock keeps a second process
out, ``bot.runtime.single``): always the leader.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("duban.leader")

LEADER_KEY = 0x64756261_0100  # "duba" + 0x0100: apart from the sweeps' keys (bot.runtime.sweeps)
# Each process's own key, held while it lives (inbox rows name it: bot.runtime.app._recover_others):
# "dub" + 0x02 in the high bits, a random 32-bit number below, far from the keys above.
INSTANCE_KEYS = (0x647562 << 40) | (0x02 << 32)
RETRY_SECONDS = 2.0  # a standby's try; with kill -9 the take-over is within this
HEARTBEAT_SECONDS = 1.0
# The server notices a vanished client within idle + interval * count seconds.
KEEPALIVES = {
    "tcp_keepalives_idle": "3",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
    "application_name": "duban-leader",
}

Hook = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class Leadership(abc.ABC):
    """The role of this instance; ``run`` until ``stop``. Hooks run in the election task."""

    def __init__(self, on_elected: Hook = _nothing, on_deposed: Hook = _nothing) -> None:
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.is_leader = False
        self.elected = asyncio.Event()  # set while leading (tests and the sender wait on it)
        self._task: asyncio.Task | None = None

    @property
    def role(self) -> str:
        return "leader" if self.is_leader else "standby"

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="leader-election")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.is_leader:
            await self._depose("stopped")

    @abc.abstractmethod
    async def run(self) -> None:
        """Hold or wait for the role until cancelled (on SQLite: lead at once; on PostgreSQL: the lock)."""

    async def _elect(self) -> None:
        self.is_leader = True
        self.elected.set()
        log.warning("event=leader_elected")
        await self.on_elected()

    async def _depose(self, reason: str) -> None:
        self.is_leader = False
        self.elected.clear()
        log.warning("event=leader_deposed reason=%s", reason)
        await self.on_deposed()


class LocalLeadership(Leadership):
    """One process owns the database (SQLite): it leads from the start."""

    async def run(self) -> None:
        await self._elect()
        await asyncio.Event().wait()


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgLeadership(Leadership):
    def __init__(
        self,
        url: str,
        *,
        key: int = LEADER_KEY,
        retry_seconds: float = RETRY_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        on_elected: Hook = _nothing,
        on_deposed: Hook = _nothing,
    ) -> None:
        super().__init__(on_elected, on_deposed)
        self.dsn = asyncpg_dsn(url)
        self.key = key
        self.retry_seconds = retry_seconds
        self.heartbeat_seconds = heartbeat_seconds
        # A deposed leader stops within a heartbeat (and its timeout): the new one waits that long
        # before it takes over the old one's unfinished updates (bot.runtime.app.lead).
        self.settle_seconds = heartbeat_seconds * 3
        # Not shorter than 2 s: a busy machine (or database) must not depose a healthy leader.
        self.heartbeat_timeout = max(heartbeat_seconds * 3, 2.0)
        self.connection: Any = None  # asyncpg.Connection while trying or leading (asyncpg has no types)
        self.backend_pid: int | None = None
        self.instance_key = INSTANCE_KEYS | secrets.randbits(32)
        self._lost = asyncio.Event()

    async def run(self) -> None:
        failing = False
        try:
            while True:
                try:
                    if await self._try():
                        failing = False
                        await self._lead()
                except (TimeoutError, OSError, Exception) as exc:  # noqa: BLE001 — keep standing by
                    if not failing:
                        log.error("event=leader_election_failed error=%s", type(exc).__name__)
                    failing = True
                    await self._close()
                await asyncio.sleep(self.retry_seconds)
        finally:
            await self._close()

    async def _try(self) -> bool:
        import asyncpg  # type: ignore[import-untyped]  # asyncpg publishes no type information

        if self.connection is None or self.connection.is_closed():
            self._lost = asyncio.Event()
            lost = self._lost
            self.connection = await asyncpg.connect(
                self.dsn, timeout=max(self.retry_seconds, 5.0), server_settings=KEEPALIVES
            )
            self.connection.add_termination_listener(lambda _conn: lost.set())
            self.backend_pid = self.connection.get_server_pid()  # for an operator's pg_terminate_backend
            # "This instance lives", for as long as the connection does (leader or standby).
            async with asyncio.timeout(self.retry_seconds + 5):
                await self.connection.execute("SELECT pg_advisory_lock($1)", self.instance_key)
        async with asyncio.timeout(self.retry_seconds + 5):
            return bool(await self.connection.fetchval("SELECT pg_try_advisory_lock($1)", self.key))

    async def _lead(self) -> None:
        await self._elect()
        reason = "connection_lost"
        try:
            while True:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that lands
                # as its inner await ends (cpython gh-86296), and a stop as the connection drops
                # sent the election round again forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.heartbeat_seconds):
                        await self._lost.wait()
                if self._lost.is_set():
                    break
                try:  # a connection that went silent: no answer in time is a lost lock
                    async with asyncio.timeout(self.heartbeat_timeout):
                        await self.connection.fetchval("SELECT 1")
                except Exception as exc:  # noqa: BLE001 — whatever it is, the lock is not certain any more
                    reason = f"heartbeat_failed:{type(exc).__name__}"
                    break
        finally:
            # First stop acting as the leader, then let the lock go (close: the session ends).
            await self._depose(reason)
            await self._close()

    async def _close(self) -> None:
        conn, self.connection = self.connection, None
        if conn is not None and not conn.is_closed():
            try:
                async with asyncio.timeout(2):
                    await conn.close()
            except Exception:  # noqa: BLE001 — closing a broken connection
                conn.terminate()
