"""The election task stops when cancelled, even when the cancel lands as its connection is lost."""

from __future__ import annotations

import asyncio

from bot.runtime.leader import PgLeadership


class _Connection:
    """An asyncpg connection that answers every heartbeat."""

    def is_closed(self) -> bool:
        return False

    async def fetchval(self, *_args: object) -> int:
        return 1

    async def close(self) -> None:
        return None


class _AlwaysWins(PgLeadership):
    """Takes the lock at every try, without a server."""

    tries = 0

    async def _try(self) -> bool:
        self.tries += 1
        self.connection = _Connection()
        return True


async def test_a_cancel_that_lands_with_a_lost_connection_stops_the_election() -> None:
    # Python 3.11's wait_for hands back the inner result when both arrive in one step: a kill -9 of
    # the process (tests) or a shutdown at the moment the lock connection drops used to leave the
    # election running, re-taking the lock forever, and whoever awaited it hung.
    lead = _AlwaysWins("postgresql://duban@localhost/duban", retry_seconds=0.01, heartbeat_seconds=30)
    lead.start()
    await lead.elected.wait()
    for _ in range(5):  # into the heartbeat's wait for a lost connection
        await asyncio.sleep(0)
    task = lead._task
    assert task is not None
    lead._lost.set()  # the termination listener fires...
    task.cancel()  # ...and the same instant the process is told to stop
    done, _ = await asyncio.wait({task}, timeout=2)
    assert done == {task} and task.cancelled()
    assert not lead.is_leader and lead.tries == 1
