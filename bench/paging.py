"""/items at scale: a page of a unit's long list, and the office's first page of 100,000 items.

    .venv/bin/python bench/paging.py [--runs 5] [--total 100000]
    DUBAN_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/paging.py

What is timed is ``bot.domain.views.open_items_for`` in its own session, as the /items handler
calls it (page size 8, the handler's), for a person looked up the way the gate does it
(``person_by_telegram_id``, roles loaded). Data is written with bulk inserts, consistent with
``store.workflow``: approved items (numbered 督字〔2026〕N号, state ``assigned``), one lead
assignment each, a leader each, due dates spread from 30 days overdue to 60 days ahead so all
three lights occur. Two steps on the same database:

  1. 城关镇 has 2,000 items and 仲兴镇 200 (2,200 in all): the liaison's pages 1, 25, 100 and
     250 (the last) of 城关镇, and page 1 of 仲兴镇; median of ``--runs`` each.
  2. Other units' items fill the table up to ``--total``: the same pages again (independent of
     the table's size), then the office's page 1 of all ``--total`` — its time (median) and how
     much the process's resident memory grew over its first call.

SQLite always; PostgreSQL too when ``DUBAN_TEST_PG_URL`` is set (a scratch database of this
bench's own on that server, dropped at the end). The implementation the issue measured is gone,
so its figures are printed as the issue's reference, not re-measured.
Goals (issue 11): a page <= 20 ms, independent of N and of the unit's size; office page 1 of
100,000 items <= 0.2 s and <= +20 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from bench.scratch_db import Backend, analyze  # noqa: E402
from bot.domain.schedules import load_calendar  # noqa: E402
from bot.demo.county import demo_units  # noqa: E402
from bot.domain.directory import person_by_telegram_id  # noqa: E402
from bot.domain.views import ItemFilters, ItemPage, open_items_for  # noqa: E402
from bot.domain.workdays import WorkCalendar  # noqa: E402
from bot.domain.workflow import local_date  # noqa: E402
from store.db import Database  # noqa: E402
from store.models import Person, PersonRole, Unit  # noqa: E402
from store.workflow import Assignment, Item, ItemCounter, ItemLeader  # noqa: E402

PAGE_SIZE = 8  # handlers.views.PAGE_SIZE
NOW = datetime.now(UTC)
TODAY = local_date(NOW)
YEAR = TODAY.year
BIG, SMALL = "城关镇", "仲兴镇"
BIG_N, SMALL_N = 2_000, 200
PAGES = (1, 25, 100, 250)
OFFICE, LEADER = 1, 2  # people ids; a unit's liaison is 100 + its id
GOAL_PAGE_MS, GOAL_OFFICE_S, GOAL_RSS_MB = 20.0, 0.2, 20.0
ISSUE_PAGE = "0.44–0.64 s per page, growing with the list (paging all pages: quadratic)"
ISSUE_OFFICE = "20–26 s, +600 MB, nobody else answered meanwhile"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


class Seeder:
    """Bulk rows through SQLAlchemy Core; item ids and numbers continue across calls."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.units: dict[str, int] = {}
        self.next_id = 1
        self.rng = random.Random(11)

    async def directory(self) -> None:
        t0 = NOW - timedelta(days=90)
        self.units = {name: i for i, (name, _kind) in enumerate(demo_units(), start=1)}
        people = [{"id": OFFICE, "name": "王敏", "unit_id": None, "telegram_id": 1_000 + OFFICE,
                   "active": True, "created_at": t0},
                  {"id": LEADER, "name": "陈志远", "unit_id": None, "telegram_id": 1_000 + LEADER,
                   "active": True, "created_at": t0}]
        roles = [{"person_id": OFFICE, "role": "office"}, {"person_id": LEADER, "role": "leader"}]
        for name, uid in self.units.items():
            people.append({"id": 100 + uid, "name": f"{name}联络员", "unit_id": uid, "telegram_id": 1_100 + uid,
                           "active": True, "created_at": t0})
            roles.append({"person_id": 100 + uid, "role": "liaison"})
        async with self.db.session() as s:
            await s.execute(insert(Unit), [{"id": uid, "name": name, "kind": kind, "active": True, "created_at": t0}
                                           for (name, kind), uid in zip(demo_units(), self.units.values())])
            await s.execute(insert(Person), people)
            await s.execute(insert(PersonRole), roles)

    async def items(self, unit_ids: list[int], batch: int = 10_000) -> None:
        """One approved item per entry of ``unit_ids``, that unit leading it."""
        t0 = NOW - timedelta(days=60)
        for start in range(0, len(unit_ids), batch):
            chunk = unit_ids[start:start + batch]
            first = self.next_id
            ids = range(first, first + len(chunk))
            dues = [TODAY + timedelta(days=self.rng.randint(-30, 60)) for _ in chunk]
            async with self.db.session() as s:
                await s.execute(insert(Item), [{
                    "id": i, "year": YEAR, "number": i, "title": f"督查事项{i}", "requirements": "按要求办理并报送情况。",
                    "source": "other", "importance": "urgent" if i % 20 == 0 else "important",
                    "confidential": False, "weekly_feedback": False, "deadline_date": due, "due_date": due,
                    "due_provisional": False, "state": "assigned", "follower_id": OFFICE if i % 20 == 0 else None,
                    "created_by_id": OFFICE, "created_at": t0, "submission_count": 1, "submitted_at": t0,
                    "approved_at": t0, "approved_by_id": OFFICE,
                } for i, due in zip(ids, dues)])
                await s.execute(insert(Assignment), [{
                    "id": i, "item_id": i, "unit_id": unit, "role": "lead", "state": "assigned", "created_at": t0,
                    "notified_at": t0, "due_date": due, "due_provisional": False, "extension_count": 0,
                    "redo_count": 0,
                } for i, unit, due in zip(ids, chunk, dues)])
                await s.execute(insert(ItemLeader), [{"item_id": i, "person_id": LEADER} for i in ids])
            self.next_id += len(chunk)
        async with self.db.session() as s:
            await s.execute(ItemCounter.__table__.delete())
            await s.execute(insert(ItemCounter), [{"year": YEAR, "last_number": self.next_id - 1}])
        await analyze(self.db)


def rss_mb() -> float:
    """The process's resident memory now (psutil is not a dependency: /proc, else getrusage's peak)."""
    try:
        import psutil  # type: ignore[import-not-found]

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pass
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def viewer(db: Database, person_id: int) -> Person:
    async with db.session() as s:
        person = await person_by_telegram_id(s, 1_000 + person_id)
    assert person is not None
    return person


async def one_page(db: Database, person: Person, page: int, calendar: WorkCalendar) -> tuple[float, ItemPage]:
    started = time.perf_counter()
    async with db.session() as s:
        result = await open_items_for(s, person, ItemFilters(), page, PAGE_SIZE, calendar=calendar, now=NOW)
    return time.perf_counter() - started, result


async def median_page(db: Database, person: Person, page: int, calendar: WorkCalendar, runs: int,
                      expect_total: int) -> float:
    times = []
    for _ in range(runs):
        elapsed, result = await one_page(db, person, page, calendar)
        assert result.total == expect_total and result.page == page and len(result.items) == min(
            PAGE_SIZE, expect_total - (page - 1) * PAGE_SIZE), (result.total, result.page, len(result.items))
        times.append(elapsed)
    return statistics.median(times)


async def unit_pages(db: Database, seeder: Seeder, calendar: WorkCalendar, runs: int, label: str) -> float:
    big = await viewer(db, 100 + seeder.units[BIG])
    small = await viewer(db, 100 + seeder.units[SMALL])
    await one_page(db, big, 1, calendar)  # warm: statement caches, the first connection
    cells = [(f"{BIG} p{p}", await median_page(db, big, p, calendar, runs, BIG_N)) for p in PAGES]
    cells.append((f"{SMALL} p1", await median_page(db, small, 1, calendar, runs, SMALL_N)))
    worst = max(t for _, t in cells)
    print(f"  {label}: " + ", ".join(f"{name} {t * 1000:.1f} ms" for name, t in cells)
          + f" — goal ≤ {GOAL_PAGE_MS:g} ms: {'met' if worst * 1000 <= GOAL_PAGE_MS else 'NOT met'}; "
          f"last/first page {cells[len(PAGES) - 1][1] / cells[0][1]:.2f}×, "
          f"{BIG_N:,}/{SMALL_N} items p1 {cells[0][1] / cells[-1][1]:.2f}×")
    return worst


async def run_backend(backend: Backend, total: int, runs: int) -> None:
    db = await backend.open()
    try:
        seeder = Seeder(db)
        started = time.perf_counter()
        await seeder.directory()
        await seeder.items([seeder.units[BIG]] * BIG_N + [seeder.units[SMALL]] * SMALL_N)
        async with db.session() as s:
            calendar = await load_calendar(s)
        print(f"\n{backend.name} — page size {PAGE_SIZE}, median of {runs}")
        await unit_pages(db, seeder, calendar, runs, f"{BIG_N + SMALL_N:,} items in the table")

        others = [uid for name, uid in seeder.units.items() if name not in (BIG, SMALL)]
        rest = total - BIG_N - SMALL_N
        await seeder.items([others[i % len(others)] for i in range(rest)])
        print(f"  (data for {total:,} items written in {time.perf_counter() - started:.0f} s)")
        await unit_pages(db, seeder, calendar, runs, f"{total:,} items in the table")

        office = await viewer(db, OFFICE)
        gc.collect()
        before = rss_mb()
        first, result = await one_page(db, office, 1, calendar)
        grew = rss_mb() - before
        assert result.total == total and len(result.items) == PAGE_SIZE, (result.total, len(result.items))
        times = [first] + [(await one_page(db, office, 1, calendar))[0] for _ in range(runs - 1)]
        grew = max(grew, rss_mb() - before)
        office_s = statistics.median(times)
        met = office_s <= GOAL_OFFICE_S and grew <= GOAL_RSS_MB
        print(f"  office /items page 1 of {total:,}: {office_s:.3f} s (first call {first:.3f} s), resident memory "
              f"{grew:+.1f} MB — goal ≤ {GOAL_OFFICE_S:g} s and ≤ +{GOAL_RSS_MB:g} MB: {'met' if met else 'NOT met'}")
    finally:
        await backend.close(db)


async def main(total: int, runs: int) -> None:
    started = time.perf_counter()
    pg_url = os.environ.get("DUBAN_TEST_PG_URL")
    backends = [Backend("SQLite", bench="paging", now=lambda: NOW)] + (
        [Backend("PostgreSQL", pg_url, bench="paging", now=lambda: NOW)] if pg_url else [])
    print(f"paging bench: bot.domain.views.open_items_for, as /items calls it; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    for backend in backends:
        await run_backend(backend, total, runs)
    if not pg_url:
        print("\nPostgreSQL not measured (set DUBAN_TEST_PG_URL)")
    print("\nissue 11's reference for the old implementation (its machine, not re-measured: the code is gone):")
    print(f"  /items page N for a unit with 2,000 items: {ISSUE_PAGE}")
    print(f"  office /items with 100,000 items: {ISSUE_OFFICE}")
    print(f"(whole bench {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=100_000, help="items in the table for step 2")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per page (median printed)")
    args = parser.parse_args()
    asyncio.run(main(args.total, args.runs))
