"""The escalation sweep's time at 1k, 10k and 100k open assignments, on SQLite and — when
``DUBAN_TEST_PG_URL`` is set — on PostgreSQL, next to the write path it replaced.

    .venv/bin/python bench/escalation.py [--sizes 1000 10000 100000] [--runs 7] [--explain]
    DUBAN_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/escalation.py

Data is generated with bulk inserts: 100 units (a liaison and a head each), 3 office people,
one open item per assignment. About 1% of the assignments are overdue (1–30 days) and 1% are
due within 3 working days; the rest are due months ahead (green). The overdue ones carry the
rungs of their earlier rounds (liaison, head, office, every day since the deadline), so the
sweep reads and writes next to a realistic history, not into empty tables.

Each size is timed for the day's first round (every rung new: reminders and grouped messages
written) and for a second run with the same ``now`` (nothing new) — what every later round of the
day does, as the sweep runs every minute. The repeat round is printed with the due rows it read:
"now" leaves out in SQL the overdue shares whose rungs are all written
(``bot.domain.urging.overdue_unreached``); "read all" is the sweep without that filter, as it was.
``--due 65`` makes 65% of the shares due (half of them overdue), as in bench/memory.py's county. Every timed first round is a
real, committed transaction; between runs its rows are deleted (and, on PostgreSQL, the tables
vacuumed) so the next one starts from the same state. Printed: the median of ``--runs`` and, in
brackets, the best run. A warm-up on a small database runs first (imports, template compilation),
and each database gets one untimed round per path (its connections, statement caches, plans).

"now" is ``bot.domain.urging.escalation_sweep``: the round's reached rungs read, messages
written, then the rungs with their message ids (one insert each). "before" is the write path it
replaced, kept below as ``two_write_sweep``: rungs inserted with RETURNING, messages written,
then every rung linked to its message by a bulk UPDATE. Both plan alike and run on the same
(current) schema; both must produce the same rungs and messages.

Absolute times depend on the machine and on what else runs on it (the load average is printed);
the ratio between the two paths, measured alternately in one run, is the comparison that holds.

A last line puts 100k open assignments behind the same number of due ones as the 1k case: the
sweep reads through the index ``ix_assignments_state_due`` only what is near its deadline, so its
time follows the items due, not all items.
Goal (issue 11): first round <= 0.5 s at 100,000 open assignments on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import bindparam, delete, insert, text, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from bot.kernel.config import Settings  # noqa: E402
from bot.domain.urging import (  # noqa: E402
    OVERDUE,
    SweepResult,
    _chunks,
    _insert,
    candidates,
    count_queued,
    enqueue_many,
    escalation_sweep,
    log_sweep,
    outgoing_rounds,
)
from bot.domain.workdays import WorkCalendar  # noqa: E402
from bot.kernel.clock import OFFICE_TZ  # noqa: E402
from bench.scratch_db import Backend  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import OutboxMessage, Person, PersonRole, Unit  # noqa: E402
from store.urging import Reminder  # noqa: E402
from store.workflow import Assignment, Item  # noqa: E402

NOW = datetime.combine(date(2026, 3, 16), dtime(9, 0), tzinfo=OFFICE_TZ).astimezone(UTC)  # a Monday round
TODAY = NOW.astimezone(OFFICE_TZ).date()
UNITS = 100
OFFICE = (1, 2, 3)
CAL = WorkCalendar()
GOAL_S = 0.5
ISSUE_REFERENCE = "0.92 s (issue 11's measurement of the old path: two bulk writes, 0.40 s + 0.28 s)"

SweepFn = Callable[[AsyncSession, WorkCalendar, datetime, Settings], Awaitable[SweepResult]]


async def two_write_sweep(session: AsyncSession, calendar: WorkCalendar, now: datetime,
                          settings: Settings) -> SweepResult:
    """The write path before issue 11, for comparison: rungs inserted first (RETURNING tells which
    are new), the messages written, then each rung linked to its message by a bulk UPDATE."""
    c = await candidates(session, calendar, now, settings)
    result = c.result
    if not c.planned:
        return result
    conn = await session.connection()
    table = Reminder.__table__
    stmt = (_insert(session)(table).on_conflict_do_nothing(
        index_elements=["assignment_id", "person_id", "level", "round_date"])
        .returning(table.c.id, table.c.assignment_id, table.c.person_id, table.c.level, table.c.round_date))
    values = [{"assignment_id": p.due.assignment_id, "person_id": p.person_id, "level": p.level,
               "round_date": p.round_date, "created_at": now, "outbox_id": None} for p in c.planned]
    new: dict[tuple[int, int, str, date], int] = {}
    for chunk in _chunks(values, 5000):
        for rid, aid, pid, level, day in (await conn.execute(stmt, chunk)).all():
            new[(aid, pid, level, day)] = rid
    fresh = [p for p in c.planned if (p.due.assignment_id, p.person_id, p.level, p.round_date) in new]
    result.reminders = len(fresh)
    rounds = outgoing_rounds(fresh, c.directory)
    queued = await enqueue_many(session, [out for _, out in rounds], now)
    links = []
    for rnd, out in rounds:
        outbox_id = queued.get(out.dedupe_key)
        if outbox_id is None:
            continue
        count_queued(result, rnd, now)
        links += [{"rid": new[(e.due.assignment_id, e.person_id, e.level, e.round_date)], "oid": outbox_id}
                  for e in rnd.entries]
    link = update(table).where(table.c.id == bindparam("rid")).values(outbox_id=bindparam("oid"))
    for chunk in _chunks(links, 5000):
        await conn.execute(link, chunk)
    log_sweep(result)
    return result


async def read_all_sweep(session: AsyncSession, calendar: WorkCalendar, now: datetime,
                         settings: Settings) -> SweepResult:
    """The read path before the repeat-round fix: every due assignment read, every round, and the
    reached rungs taken out in Python."""
    return await escalation_sweep(session, calendar, now, settings, skip_reached=False)


PATHS: dict[str, SweepFn] = {"now": escalation_sweep, "before": two_write_sweep, "read all": read_all_sweep}
FIRST_PATHS = ("now", "before", "read all")
AGAIN_PATHS = ("now", "read all")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def due_dates(n: int, due_count: int, rng: random.Random) -> list[date]:
    """``due_count`` dates overdue or due soon (half each), the rest 2–12 months ahead."""
    soon = [TODAY + timedelta(days=d) for d in range(0, 4)]
    out = []
    for i in range(n):
        if i < due_count // 2:
            out.append(TODAY - timedelta(days=rng.randint(1, 30)))
        elif i < due_count:
            out.append(rng.choice(soon))
        else:
            out.append(TODAY + timedelta(days=rng.randint(60, 365)))
    rng.shuffle(out)
    return out


def liaison_of(unit: int) -> int:
    return 10 + 2 * (unit - 1)


async def populate(db: Database, n: int, due_count: int) -> int:
    """Returns the number of history rungs written."""
    rng = random.Random(n * 7 + due_count)
    t0 = NOW - timedelta(days=60)
    async with db.session() as s:
        await s.execute(insert(Unit), [{"id": i + 1, "name": f"单位{i:03d}", "kind": "部门", "active": True,
                                        "created_at": t0} for i in range(UNITS)])
        people = [{"id": pid, "name": name, "unit_id": None, "telegram_id": pid, "active": True, "created_at": t0}
                  for pid, name in zip(OFFICE, ("王督查", "刘督查", "张督查"))]
        roles = [{"person_id": i, "role": "office"} for i in OFFICE]
        for u in range(1, UNITS + 1):
            for k, role in enumerate(("liaison", "unit_head")):
                pid = liaison_of(u) + k
                people.append({"id": pid, "name": f"{role}{u}", "unit_id": u, "telegram_id": 1000 + pid,
                               "active": True, "created_at": t0})
                roles.append({"person_id": pid, "role": role})
        await s.execute(insert(Person), people)
        await s.execute(insert(PersonRole), roles)
        dues = due_dates(n, due_count, rng)
        units = [rng.randint(1, UNITS) for _ in range(n)]
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
                "id": i + 1, "item_id": i + 1, "unit_id": units[i], "role": "lead", "state": "in_progress",
                "created_at": t0, "notified_at": t0, "due_date": dues[i], "due_provisional": False,
                "extension_count": 0, "redo_count": 0,
            } for i in range(start, stop)])
        # Earlier rounds of the overdue ones: every day since the deadline, liaison, head, office.
        history = [{"assignment_id": i + 1, "person_id": pid, "level": OVERDUE, "round_date": day,
                    "created_at": t0, "outbox_id": None}
                   for i, due in enumerate(dues) if due < TODAY
                   for day in (due + timedelta(days=k) for k in range(1, (TODAY - due).days))
                   for pid in (liaison_of(units[i]), liaison_of(units[i]) + 1, *OFFICE)]
        for chunk in _chunks(history, batch):
            await s.execute(insert(Reminder), list(chunk))
    await analyze(db, "")  # as autovacuum would have left a database that old: hint bits and statistics set
    return len(history)


async def analyze(db: Database, tables: str = "reminders, outbox") -> None:
    if db.is_sqlite:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        return
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"VACUUM ANALYZE {tables}"))


async def undo_round(db: Database) -> None:
    """Back to the state before the first round: its rungs and messages gone."""
    async with db.session() as s:
        await s.execute(delete(Reminder).where(Reminder.round_date >= TODAY))
        await s.execute(delete(OutboxMessage))
    await analyze(db)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    n: int
    history: int
    first: SweepResult
    times: dict[str, list[float]]  # "first now", "first before", "first read all", "again now", "again read all"
    read_again: dict[str, int]  # due assignments read by a repeat round, per path

    def median(self, key: str) -> float:
        return statistics.median(self.times[key])

    def cell(self, key: str) -> str:
        """Median, and in brackets the best run (what the work costs when nothing else competes)."""
        return f"{self.median(key):.3f} ({min(self.times[key]):.3f})"


async def timed(db: Database, fn: SweepFn) -> tuple[float, SweepResult]:
    settings = Settings()
    started = time.perf_counter()
    async with db.session() as s:  # commits: the commit is part of the round
        result = await fn(s, CAL, NOW, settings)
    return time.perf_counter() - started, result


async def measure(backend: Backend, n: int, due_count: int, runs: int, explain: bool) -> Case:
    db = await backend.open()
    try:
        history = await populate(db, n, due_count)
        if explain:
            await print_plan(db)
        times: dict[str, list[float]] = {f"{k} {p}": [] for k, paths in (("first", FIRST_PATHS), ("again", AGAIN_PATHS))
                                         for p in paths}
        read_again: dict[str, int] = {}
        first: SweepResult | None = None
        for path in PATHS:  # untimed: this database's connections, statement caches and plans warm
            await timed(db, PATHS[path])
            await undo_round(db)
        for i in range(runs):  # rotate the paths so none always runs on a just-vacuumed table
            for path in FIRST_PATHS[i % 3:] + FIRST_PATHS[:i % 3]:
                elapsed, result = await timed(db, PATHS[path])
                times[f"first {path}"].append(elapsed)
                first = first or result
                assert result.reminders == first.reminders and result.messages == first.messages, path
                await undo_round(db)
        await timed(db, escalation_sweep)
        for i in range(runs):  # the same round again (the sweep runs every minute): nothing new
            for path in AGAIN_PATHS if i % 2 == 0 else AGAIN_PATHS[::-1]:
                elapsed, again = await timed(db, PATHS[path])
                assert again.messages == 0 and again.reminders == 0, path
                times[f"again {path}"].append(elapsed)
                read_again[path] = again.considered
        return Case(n, history, first, times, read_again)
    finally:
        await backend.close(db)


async def print_plan(db: Database) -> None:
    query = ("SELECT assignment_id, person_id, round_date FROM reminders "
             "WHERE round_date IN ('2026-03-16') AND level = 'overdue'")
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = await conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))
            print("   plan:", " | ".join(row[-1] for row in rows))
        else:
            rows = await conn.execute(text(f"EXPLAIN {query}"))
            print("   plan:", " | ".join(row[0].strip() for row in rows))


async def warm_up(backend: Backend) -> None:
    await measure(backend, 1_000, 20, 1, explain=False)


async def run_backend(backend: Backend, sizes: list[int], runs: int, explain: bool, due_percent: int) -> Case | None:
    await warm_up(backend)
    print(f"\nescalation sweep on {backend.name} — one round (Mon 09:00), 100 units, 3 office staff; "
          f"seconds, median of {runs} committed runs (best)")
    print("  first round: now | before = the two-write path | read all = no repeat-round filter;"
          " same again: a second round, same day, nothing new (due rows read by it in brackets)")
    print(f"{'open':>9} {'due read':>9} {'history':>8} {'new rungs':>10} {'messages':>9} │ "
          f"{'first: now':>13} {'before':>13} {'read all':>13} │ {'again: now':>21} {'read all':>21}")
    cases = [(n, max(1, n * due_percent // 100)) for n in sizes]
    if sizes:
        cases.append((max(sizes), max(1, min(sizes) * due_percent // 100)))
    largest = None
    for n, due_count in cases:
        c = await measure(backend, n, due_count, runs, explain)
        r = c.first
        again = {p: f"{c.cell('again ' + p)} [{c.read_again[p]:,}]" for p in AGAIN_PATHS}
        print(f"{n:>9,} {r.considered:>9,} {c.history:>8,} {r.reminders:>10,} {r.messages:>9,} │ "
              f"{c.cell('first now'):>13} {c.cell('first before'):>13} {c.cell('first read all'):>13} │ "
              f"{again['now']:>21} {again['read all']:>21}")
        if n == max(sizes) and largest is None:
            largest = c
    return largest


async def main(sizes: list[int], runs: int, explain: bool, due_percent: int = 2, sqlite: bool = True) -> None:
    total = time.perf_counter()
    print(f"load average at start: {load()} ({os.cpu_count()} CPUs)")
    pg_url = os.environ.get("DUBAN_TEST_PG_URL")
    backends = ([Backend("SQLite", bench="escalation", now=lambda: NOW)] if sqlite or not pg_url else []) + (
        [Backend("PostgreSQL", pg_url, bench="escalation", now=lambda: NOW)] if pg_url else [])
    largest = {b.name: await run_backend(b, sizes, runs, explain, due_percent) for b in backends}
    print()
    n = max(sizes)
    for name, c in largest.items():
        if c is None:
            continue
        now, before = c.median("first now"), c.median("first before")
        goal = f"goal <= {GOAL_S} s on PostgreSQL: {'met' if now <= GOAL_S else 'NOT met'}" if name == "PostgreSQL" \
            else "the goal is set for PostgreSQL"
        print(f"{name}, {n:,} open assignments, first round: now {now:.3f} s (best {min(c.times['first now']):.3f}), "
              f"before {before:.3f} s ({before / now:.1f}× as fast now) — {goal}")
        print(f"{name}, {n:,} open assignments, same round again: now {c.median('again now'):.3f} s reading "
              f"{c.read_again['now']:,} due rows, read all {c.median('again read all'):.3f} s reading "
              f"{c.read_again['read all']:,}")
    if "PostgreSQL" not in largest:
        print("PostgreSQL not measured (set DUBAN_TEST_PG_URL); issue's reference for the old path: "
              f"{ISSUE_REFERENCE}")
    else:
        print(f"issue's reference for the old path on its machine: {ISSUE_REFERENCE}")
    print(f"(whole bench {time.perf_counter() - total:.0f} s; load average at the end: {load()})")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per path and case (median and best printed)")
    parser.add_argument("--explain", action="store_true", help="print the plan of the reached-rungs query")
    parser.add_argument("--due", type=int, default=2, help="percent of the shares due (half overdue, half due soon)")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True,
                        help="measure SQLite too (--no-sqlite: PostgreSQL only)")
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.runs, args.explain, args.due, args.sqlite))
