"""The escalation sweep's time at 1k, 10k and 100k open assignments on SQLite.

    .venv/bin/python bench/escalation.py [--sizes 1000 10000 100000] [--explain]

Data is generated with bulk inserts: 100 units (a liaison and a head each), 3 office people,
one open item per assignment. About 1% of the assignments are overdue and 1% are due within
3 working days; the rest are due months ahead (green). Each size is timed for the day's first
round (every rung new: reminders and grouped messages written) and for a second run with the
same ``now`` (nothing new). A last line puts 100k open assignments behind the *same* number of
due ones as the 1k case: the sweep reads through the index ``ix_assignments_state_due`` only
what is near its deadline, so its time follows the items due, not all items.
Target: <= 0.5 s at 100k.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.domain.urging import escalation_sweep  # noqa: E402
from bot.domain.workdays import WorkCalendar  # noqa: E402
from bot.domain.workflow import OFFICE_TZ  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import Person, PersonRole, Unit  # noqa: E402
from store.workflow import Assignment, Item  # noqa: E402

NOW = datetime.combine(date(2026, 3, 16), dtime(9, 0), tzinfo=OFFICE_TZ).astimezone(UTC)  # a Monday round
UNITS = 100
CAL = WorkCalendar()


def due_dates(n: int, due_count: int, rng: random.Random) -> list[date]:
    """``due_count`` dates overdue or due soon (half each), the rest 2–12 months ahead."""
    today = NOW.astimezone(OFFICE_TZ).date()
    soon = [today + timedelta(days=d) for d in range(0, 4)]
    out = []
    for i in range(n):
        if i < due_count // 2:
            out.append(today - timedelta(days=rng.randint(1, 30)))
        elif i < due_count:
            out.append(rng.choice(soon))
        else:
            out.append(today + timedelta(days=rng.randint(60, 365)))
    rng.shuffle(out)
    return out


async def populate(db: Database, n: int, due_count: int) -> None:
    rng = random.Random(n * 7 + due_count)
    t0 = NOW - timedelta(days=60)
    async with db.session() as s:
        await s.execute(insert(Unit), [{"id": i + 1, "name": f"单位{i:03d}", "kind": "部门", "active": True,
                                        "created_at": t0} for i in range(UNITS)])
        people = [{"id": 1, "name": "王督查", "unit_id": None, "telegram_id": 1, "active": True, "created_at": t0},
                  {"id": 2, "name": "刘督查", "unit_id": None, "telegram_id": 2, "active": True, "created_at": t0},
                  {"id": 3, "name": "张督查", "unit_id": None, "telegram_id": 3, "active": True, "created_at": t0}]
        roles = [{"person_id": i, "role": "office"} for i in (1, 2, 3)]
        for u in range(UNITS):
            for k, role in enumerate(("liaison", "unit_head")):
                pid = 10 + 2 * u + k
                people.append({"id": pid, "name": f"{role}{u}", "unit_id": u + 1, "telegram_id": 1000 + pid,
                               "active": True, "created_at": t0})
                roles.append({"person_id": pid, "role": role})
        await s.execute(insert(Person), people)
        await s.execute(insert(PersonRole), roles)
        dues = due_dates(n, due_count, rng)
        batch = 20_000
        for start in range(0, n, batch):
            stop = min(n, start + batch)
            await s.execute(insert(Item), [{
                "id": i + 1, "year": 2026, "number": i + 1, "title": f"督查事项{i + 1}", "requirements": "按要求办理。",
                "source": "deployment", "importance": "urgent" if i % 50 == 0 else "important",
                "confidential": i % 97 == 0, "weekly_feedback": False, "due_date": dues[i], "due_provisional": False,
                "state": "in_progress", "follower_id": 1 if i % 50 == 0 else None, "created_by_id": 1,
                "created_at": t0, "submission_count": 1, "approved_at": t0,
            } for i in range(start, stop)])
            await s.execute(insert(Assignment), [{
                "id": i + 1, "item_id": i + 1, "unit_id": rng.randint(1, UNITS), "role": "lead", "state": "in_progress",
                "created_at": t0, "notified_at": t0, "due_date": dues[i], "due_provisional": False,
                "extension_count": 0, "redo_count": 0,
            } for i in range(start, stop)])
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))


async def measure(n: int, due_count: int, explain: bool) -> tuple[float, float, object]:
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.sqlite3", now=lambda: NOW)
        await db.upgrade()
        await populate(db, n, due_count)
        if explain:
            async with db.engine.connect() as conn:
                plan = await conn.execute(text(
                    "EXPLAIN QUERY PLAN SELECT assignments.id FROM assignments JOIN items ON items.id = assignments.item_id "
                    "WHERE assignments.state IN ('assigned', 'in_progress') AND assignments.due_date <= '2026-03-19'"))
                print("   plan:", " | ".join(row[-1] for row in plan))
        started = time.perf_counter()
        async with db.session() as s:
            first = await escalation_sweep(s, CAL, NOW, settings)
        first_time = time.perf_counter() - started
        started = time.perf_counter()
        async with db.session() as s:
            again = await escalation_sweep(s, CAL, NOW, settings)
        again_time = time.perf_counter() - started
        assert again.messages == 0 and again.reminders == 0
        await db.dispose()
    return first_time, again_time, first


async def main(sizes: list[int], explain: bool) -> None:
    await asyncio.sleep(0)
    print("escalation sweep on SQLite — one round (Mon 09:00), 100 units, 3 office staff")
    print(f"{'open assignments':>18} {'due/overdue read':>17} {'new rungs':>10} {'messages':>9} "
          f"{'first round':>12} {'same again':>11}")
    total = time.perf_counter()
    cases = [(n, max(1, n // 50)) for n in sizes]
    if sizes:
        cases.append((max(sizes), max(1, min(sizes) // 50)))
    for n, due_count in cases:
        first_time, again_time, r = await measure(n, due_count, explain)
        print(f"{n:>18,} {r.considered:>17,} {r.reminders:>10,} {r.messages:>9,} {first_time:>10.3f} s "
              f"{again_time:>9.3f} s")
    print(f"(whole bench {time.perf_counter() - total:.1f} s; target: first round <= 0.5 s at 100,000)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--explain", action="store_true", help="print SQLite's plan for the due-assignment query")
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.explain))
