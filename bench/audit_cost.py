"""The cost of the escalation sweep's audit row: store.urging.insert_reminders writing a county
round's rungs (6,022, as bench/escalation.py's first round at 100k open assignments) with its one
summarised audit row, and the same statement with the audit row left out, alternately, on
PostgreSQL (DUBAN_TEST_PG_URL) and SQLite. Median and best of --runs, milliseconds."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, insert, text  # noqa: E402

import store.urging  # noqa: E402
from bench.scratch_db import Backend  # noqa: E402
from store.models import AuditEntry, Person, Unit  # noqa: E402
from store.urging import Reminder, insert_reminders  # noqa: E402
from store.workflow import Assignment, Item  # noqa: E402

NOW = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
RUNGS = 6_022


async def seed(db) -> list[tuple]:  # noqa: ANN001
    async with db.session() as s:
        await s.execute(insert(Unit), [{"id": 1, "name": "单位", "kind": "部门", "created_at": NOW}])
        await s.execute(insert(Person), [{"id": i, "name": f"人{i}", "unit_id": 1, "created_at": NOW} for i in (1, 2, 3)])
        n = RUNGS // 3 + 1
        await s.execute(insert(Item), [{"id": i, "title": "t", "requirements": "r", "source": "other",
                                        "importance": "normal", "state": "in_progress", "created_by_id": 1,
                                        "created_at": NOW} for i in range(1, n + 1)])
        await s.execute(text("DELETE FROM assignments"))
        await s.execute(insert(Assignment), [{"id": i, "item_id": i, "unit_id": 1, "role": "lead", "state": "in_progress",
                                              "created_at": NOW, "due_date": date(2026, 3, 1)} for i in range(1, n + 1)])
    return [(a, p, "overdue", date(2026, 3, 16), None) for a in range(1, n + 1) for p in (1, 2, 3)][:RUNGS]


async def no_audit(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
    return None


async def run(backend: Backend, runs: int) -> tuple[list[float], list[float]]:
    db = await backend.open()
    try:
        rows = await seed(db)
        with_audit, without = [], []
        real = store.urging.audit_bulk
        for i in range(runs * 2 + 2):
            audited = i % 2 == 0
            store.urging.audit_bulk = real if audited else no_audit
            start = time.perf_counter()
            async with db.session() as s:
                await insert_reminders(s, rows, NOW)
            took = (time.perf_counter() - start) * 1000
            if i >= 2:  # one warm-up run of each
                (with_audit if audited else without).append(took)
            async with db.session() as s:
                await s.execute(delete(Reminder))
                await s.execute(delete(AuditEntry).where(AuditEntry.entity == "reminders"))
        store.urging.audit_bulk = real
        # What the change adds, timed alone: the summary of the rows and the one audit row.
        added = []
        for _ in range(runs):
            async with db.session() as s:
                await s.execute(text("SELECT 1"))
                start = time.perf_counter()
                levels = Counter(row[2] for row in rows)
                days = sorted({row[3].isoformat() for row in rows})
                await real(s, "reminders", "reminders.insert", len(rows), planned=len(rows), levels=dict(levels),
                           days=days)
                added.append((time.perf_counter() - start) * 1000)
        print(f"{backend.name:10} the added work alone (summary + one audit row): "
              f"{statistics.median(added):.2f} ms (best {min(added):.2f})")
        return with_audit, without
    finally:
        await backend.close(db)


def show(name: str, a: list[float], b: list[float]) -> None:
    print(f"{name:10} with the audit row {statistics.median(a):7.1f} ms (best {min(a):6.1f}) │ "
          f"without {statistics.median(b):7.1f} ms (best {min(b):6.1f}) │ "
          f"difference of the medians {statistics.median(a) - statistics.median(b):+6.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    print(f"insert_reminders, {RUNGS:,} rungs, {args.runs} runs each, alternating; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    show("SQLite", *await run(Backend("sqlite", bench="audit_cost"), args.runs))
    if os.environ.get("DUBAN_TEST_PG_URL"):
        show("PostgreSQL", *await run(Backend("postgresql", os.environ["DUBAN_TEST_PG_URL"], bench="audit_cost"),
                                     args.runs))


if __name__ == "__main__":
    asyncio.run(main())
