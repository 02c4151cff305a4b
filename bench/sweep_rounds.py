"""The escalation sweep's rounds of one day at county scale: the first (every rung new), then the
same round again — as every later round of the day is, the sweep running every minute — with and
without the SQL filter that leaves out the overdue shares already reminded (issue 11).

    .venv/bin/python bench/sweep_rounds.py [--items 100000] [--seeded FILE.sqlite3]

Data: ``bench/export.py``'s seed (300 units, ``--items`` items of 2026 and their shares; about
65k of 130k shares overdue on the round's day, Tue 2026-12-01 09:30), in SQLite; ``--seeded``
copies a file seeded before (bench/memory.py's) instead of seeding for a few minutes. Printed per
round: seconds, due rows the round read, rungs written, and the process's resident set before,
its peak during the round (VmHWM, reset before each round) and after. The rounds run one after
the other in this one process: "again, read all" is the sweep with ``skip_reached=False``, the
read path before the filter, on the same data in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.export import seed  # noqa: E402
from bot.domain.schedules import load_calendar  # noqa: E402
from bot.domain.urging import escalation_sweep  # noqa: E402
from bot.kernel.clock import OFFICE_TZ  # noqa: E402
from bot.kernel.config import Settings  # noqa: E402
from store.db import Database  # noqa: E402

NOW = datetime.combine(date(2026, 12, 1), dtime(9, 30), tzinfo=OFFICE_TZ).astimezone(UTC)
ROUNDS = (("first round", True), ("same again", True), ("again, read all", False))


def mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main(items: int, seeded: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rounds.sqlite3"
        if seeded is not None:
            shutil.copyfile(seeded, path)
        db = Database(f"sqlite:///{path}")
        await db.upgrade()
        if seeded is None:
            started = time.perf_counter()
            counts = await seed(db, items)
            print(f"seeded {counts} in {time.perf_counter() - started:.0f} s")
        async with db.session() as s:
            calendar = await load_calendar(s)
        print(f"escalation rounds at {NOW.astimezone(OFFICE_TZ):%Y-%m-%d %H:%M} (Beijing), SQLite; "
              f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
        print(f"{'round':<16} {'seconds':>8} {'due rows read':>14} {'rungs written':>14} │ "
              f"{'RSS before':>10} {'peak':>6} {'after':>6} MB")
        for name, skip in ROUNDS:
            gc.collect()
            Path("/proc/self/clear_refs").write_text("5")
            before, started = mb(), time.perf_counter()
            async with db.session() as s:
                r = await escalation_sweep(s, calendar, NOW, Settings(), skip_reached=skip)
            took = time.perf_counter() - started
            print(f"{name:<16} {took:>8.1f} {r.considered:>14,} {r.reminders:>14,} │ "
                  f"{before:>10.0f} {mb('VmHWM'):>6.0f} {mb():>6.0f}   (+{mb('VmHWM') - before:.0f} MB peak)")
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seeded", type=Path, help="a SQLite file seeded before (copied, not changed)")
    args = parser.parse_args()
    asyncio.run(main(args.items, args.seeded))
