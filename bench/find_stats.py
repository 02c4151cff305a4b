"""/find and /stats at scale (issue 12 point 8), next to /items on the same data as the baseline.

    .venv/bin/python bench/find_stats.py [--runs 5] [--total 100000]
    DUBAN_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/find_stats.py

Data: bench/paging.py's (城关镇 2,000 items, 仲兴镇 200, the rest spread over the other units up to
``--total``; titles 督查事项N), three in five of them closed. Timed, median of ``--runs``, each in its own session as the handlers
call them (page size 8):

  * the liaison of 城关镇: /items page 1 (baseline), /find 督查事项1 (a title word: 1,111 hits of
    its 2,000), /find 督字〔year〕2201号 (another unit's number: nothing);
  * the office: /items page 1 of all (baseline), /find 督查事项9999 (a title, 11 hits), /find 仲兴镇
    (a unit name), /find 登记号50000;
  * /stats: ``bot.domain.stats.year_stats`` over every assignment of the year, and the resident
    memory it added.

The machine is shared: /stats also prints the CPU time it took (SQLite works in a thread of this
process), which the load average does not inflate. Goals (set here, none in the issue): a /find page within issue 11's goal for the office's /items
page (0.2 s), whatever the person and the table's size — the /items page is printed beside it as
the baseline (it reads open items only, /find closed ones too); /stats of 100,000 items within
5 s and +50 MB (the workbook is written from the same figures).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, update

from bench.paging import BIG, BIG_N, NOW, OFFICE, PAGE_SIZE, SMALL, SMALL_N, TODAY, YEAR, Seeder, rss_mb, viewer
from bench.scratch_db import Backend, analyze
from bot.domain.schedules import load_calendar
from bot.domain.search import find_items
from bot.domain.stats import year_stats
from bot.domain.views import ItemFilters, open_items_for
from store.workflow import Assignment, Item

GOAL_FIND_S, GOAL_STATS_S, GOAL_STATS_MB = 0.2, 5.0, 50.0


async def timed(runs: int, call) -> tuple[float, object]:
    await call()  # warm: statement caches, the first connection
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def close_most(db) -> None:
    """Three items in five are closed, their lead share done a few days before or after its
    deadline (so /stats reads finished shares, on time and late, not only open ones)."""
    closed = (Item.id % 5) < 3
    async with db.session() as s:
        await s.execute(update(Assignment).where(Assignment.item_id.in_(select(Item.id).where(closed)))
                        .values(state="done", done_at=NOW - timedelta(days=20)))
        await s.execute(update(Item).where(closed).values(state="closed", closed_at=NOW - timedelta(days=20)))
    await analyze(db)


async def run_backend(backend: Backend, total: int, runs: int) -> None:
    db = await backend.open()
    try:
        seeder = Seeder(db)
        started = time.perf_counter()
        await seeder.directory()
        others = [uid for name, uid in seeder.units.items() if name not in (BIG, SMALL)]
        rest = total - BIG_N - SMALL_N
        await seeder.items([seeder.units[BIG]] * BIG_N + [seeder.units[SMALL]] * SMALL_N
                           + [others[i % len(others)] for i in range(rest)])
        await close_most(db)
        async with db.session() as s:
            calendar = await load_calendar(s)
        print(f"\n{backend.name} — {total:,} items (written in {time.perf_counter() - started:.0f} s), "
              f"page size {PAGE_SIZE}, median of {runs}")

        async def items(person):
            async with db.session() as s:
                return await open_items_for(s, person, ItemFilters(), 1, PAGE_SIZE, calendar=calendar, now=NOW)

        async def find(person, keyword):
            async with db.session() as s:
                return await find_items(s, person, keyword, 1, PAGE_SIZE, calendar=calendar, now=NOW)

        for who, person_id, keywords in (
            (f"{BIG} liaison", 100 + seeder.units[BIG], ("督查事项1", f"督字〔{YEAR}〕{BIG_N + SMALL_N + 1}号")),
            ("office", OFFICE, ("督查事项9999", SMALL, "登记号50000")),
        ):
            person = await viewer(db, person_id)
            base, page = await timed(runs, lambda: items(person))  # noqa: B023
            cells = [f"/items p1 {base * 1000:.1f} ms ({page.total:,} items)"]
            worst = 0.0
            for keyword in keywords:
                took, found = await timed(runs, lambda: find(person, keyword))  # noqa: B023
                worst = max(worst, took)
                cells.append(f"/find {keyword} {took * 1000:.1f} ms ({found.total:,} hits, {took / base:.1f}×)")
            print(f"  {who}: " + "; ".join(cells)
                  + f" — goal /find ≤ {GOAL_FIND_S:g} s: {'met' if worst <= GOAL_FIND_S else 'NOT met'}")

        async def stats():
            async with db.session() as s:
                return await year_stats(s, YEAR, TODAY)

        gc.collect()
        before = rss_mb()
        cpu = time.process_time()
        took, result = await timed(runs, stats)
        cpu = (time.process_time() - cpu) / (runs + 1)  # the process's CPU (the database's thread too)
        grew = rss_mb() - before
        assert result.items.total == total, result.items.total
        met = took <= GOAL_STATS_S and grew <= GOAL_STATS_MB
        print(f"  /stats of {total:,} items ({len(result.by_unit)} units, {len(result.by_leader)} leader, "
              f"{result.items.overdue_open:,} overdue): {took:.2f} s ({cpu:.2f} s of CPU), resident memory {grew:+.1f} MB — goal ≤ "
              f"{GOAL_STATS_S:g} s and ≤ +{GOAL_STATS_MB:g} MB: {'met' if met else 'NOT met'}")
    finally:
        await backend.close(db)


async def main(total: int, runs: int) -> None:
    started = time.perf_counter()
    pg_url = os.environ.get("DUBAN_TEST_PG_URL")
    backends = [Backend("SQLite", bench="find", now=lambda: NOW)] + (
        [Backend("PostgreSQL", pg_url, bench="find", now=lambda: NOW)] if pg_url else [])
    print(f"find/stats bench: bot.domain.search.find_items and bot.domain.stats.year_stats; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    for backend in backends:
        await run_backend(backend, total, runs)
    if not pg_url:
        print("\nPostgreSQL not measured (set DUBAN_TEST_PG_URL)")
    print(f"(whole bench {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=100_000, help="items in the table")
    parser.add_argument("--runs", type=int, default=5, help="timed calls each (median printed)")
    args = parser.parse_args()
    asyncio.run(main(args.total, args.runs))
