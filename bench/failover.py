"""Fail-over of the polling leader (issue 14): seconds to take over, lost and repeated updates.

Two instances (two Applications, two engines, two elections) on one PostgreSQL database against
the emulator; the demo county's people send /help steadily. The leader is killed as kill -9 would
(its lock connection cut, its polling and handling cancelled, nothing cleaned up) in the middle of
the stream; the standby takes the lock at its next try, waits ``settle_seconds`` for a deposed
leader's last writes, recovers the inbox and polls. Then every command is counted: answered not
at all (lost) or more than once (repeated).

    DUBAN_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/failover.py [--rounds 5]

The take-over time is real time and is set by the standby's retry interval and the settle wait
(``--retry``, ``--heartbeat``; production defaults 2 s and 1 s → at most about 2 + 3 = 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scratch_db import Backend  # noqa: E402
from bot.demo.county import demo_people, seed_directory  # noqa: E402
from bot.emulator import Emulator  # noqa: E402
from bot.kernel.clock import Clock  # noqa: E402
from tests.e2e import instances as inst  # noqa: E402


async def one_round(backend: Backend, retry: float, heartbeat: float, burst: int
                    ) -> tuple[float, float, int, int, int]:
    """(seconds to the new leader's lock, seconds until it polls, sent, lost, repeated)."""
    db = await backend.open()  # a database of the round's own
    emu = Emulator(token="123456:FAILOVER-BENCH", bot_username="failover_bench_bot", limits=None)
    clock = Clock()
    people = [emu.person(dp.name) for dp in demo_people()]
    ids = {p.name: p.id for p in people}
    await seed_directory(db, clock.now(), lambda dp: ids[dp.name])
    both = [await inst.start(name, db.url, emu, clock, Path(backend.tmp.name) / "files",
                             retry_seconds=retry, heartbeat_seconds=heartbeat) for name in "AB"]
    inst.settle_all(emu, both)
    try:
        leader = await inst.leader_of(both)
        standby = next(x for x in both if x is not leader)
        sent = 0

        async def stream(n: int) -> None:
            nonlocal sent
            for i in range(n):
                await emu.user_sends(people[i % len(people)].id, "/help")
                sent += 1
                await asyncio.sleep(0.005)

        writer = asyncio.create_task(stream(burst))
        await inst.wait_for(lambda: sum(len(p.inbox) for p in people) >= burst // 4, timeout=60)
        await inst.kill(leader)
        locked = await inst.wait_for(lambda: standby.leadership.is_leader, timeout=30)
        polling = locked + await inst.wait_for(lambda: standby.polling, timeout=30)
        await writer
        await emu.settle(timeout=60)
        wanted = _wanted(people, sent)
        lost = sum(max(0, want - len(p.inbox)) for p, want in zip(people, wanted))
        repeated = sum(max(0, len(p.inbox) - want) for p, want in zip(people, wanted))
        return locked, polling, sent, lost, repeated
    finally:
        for one in both:
            await inst.stop(one)
        await backend.close(db)


def _wanted(people: list, sent: int) -> list[int]:
    return [sent // len(people) + (1 if i < sent % len(people) else 0) for i in range(len(people))]


async def main(rounds: int, retry: float, heartbeat: float, burst: int) -> None:
    url = os.environ.get("DUBAN_TEST_PG_URL")
    if not url:
        print("bench/failover.py needs PostgreSQL: set DUBAN_TEST_PG_URL (several instances share one PostgreSQL)")
        raise SystemExit(2)
    logging.basicConfig(level=logging.CRITICAL)
    results = []
    for n in range(rounds):
        results.append(await one_round(Backend("postgresql", url, bench="failover"), retry, heartbeat, burst))
        locked, polling, sent, lost, repeated = results[-1]
        print(f"round {n + 1}: lock taken {locked:5.2f} s after the kill, polling after {polling:5.2f} s; "
              f"{sent} updates sent, {lost} lost, {repeated} repeated", flush=True)
    polls = [r[1] for r in results]
    print(f"\nfail-over, {rounds} kills of the leader (retry {retry:g} s, heartbeat {heartbeat:g} s, "
          f"settle {heartbeat * 3:g} s):")
    print(f"  seconds until the standby polls: median {statistics.median(polls):.2f}, worst {max(polls):.2f} "
          f"(issue 14's bound: 10)")
    print(f"  updates lost: {sum(r[3] for r in results)} of {sum(r[2] for r in results)}; "
          f"repeated: {sum(r[4] for r in results)} (bound: at most 1 per kill)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--retry", type=float, default=2.0, help="standby retry interval, seconds (default 2)")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="leader heartbeat, seconds (default 1)")
    parser.add_argument("--burst", type=int, default=200, help="updates sent per round")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.retry, args.heartbeat, args.burst))
