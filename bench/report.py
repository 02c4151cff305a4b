"""The monthly 督查工作情况报告 at a city's scale (issue 12 point 9), beside the digest on the same data.

    .venv/bin/python bench/report.py [--units 1000] [--items 10000] [--runs 3]
    DUBAN_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/report.py

Data: bench/digest.py's seed (1,000 units, 10,000 items, dues from 40 days overdue to 120 ahead).
Timed, median of ``--runs`` after a first run printed apart: ``bot.domain.report.report_data``
(every figure of the month) and ``bot.documents.report.report_docx`` (the Word file), as
``build_report`` calls them; beside it, as the baseline a county already runs every working day
on the same data, the digest sweep for every recipient (bench/digest.py's figure). The report is
built once a month (and on demand), so the goal set here is a generous one: ≤ 5 s in all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete

from bench.digest import NOW, seed
from bench.scratch_db import Backend
from bot.documents.report import report_docx
from bot.domain.report import Period, report_data
from bot.domain.workdays import WorkCalendar
from bot.kernel.config import Settings, StorageSettings
from bot.runtime.sweeps import run_digest
from store.models import OutboxMessage
from store.urging import Reminder

GOAL_S = 5.0


async def report_once(db, calendar: WorkCalendar, period: Period) -> tuple[float, float, int, dict]:
    t0 = time.perf_counter()
    async with db.session() as s:
        data = await report_data(s, period, calendar, NOW)
    t1 = time.perf_counter()
    docx = report_docx(data, office_name="测试县人民政府督查室")
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(docx), data.summary()


async def digest_once(db, settings: Settings, calendar: WorkCalendar) -> float:
    shutil.rmtree(Path(settings.storage.files_dir) / "digest", ignore_errors=True)
    async with db.session() as s:
        await s.execute(delete(Reminder).where(Reminder.level == "overdue_leader"))
        await s.execute(delete(OutboxMessage).where(OutboxMessage.dedupe_key.like("digest:%")))
    t0 = time.perf_counter()
    async with db.session() as s:
        await run_digest(s, calendar, NOW, settings)
    return time.perf_counter() - t0


async def run_backend(backend: Backend, args: argparse.Namespace) -> None:
    db = await backend.open()
    try:
        await seed(db, args.units, args.items, 10)
        settings = replace(Settings(), storage=StorageSettings(files_dir=f"{backend.tmp.name}/files"))
        calendar = WorkCalendar()
        period = Period(NOW.year, NOW.month)
        first = await report_once(db, calendar, period)
        runs = [await report_once(db, calendar, period) for _ in range(args.runs)]
        data_s = statistics.median(r[0] for r in runs)
        docx_s = statistics.median(r[1] for r in runs)
        digests = [await digest_once(db, settings, calendar) for _ in range(args.runs)]
        s = runs[-1][3]
        print(f"\n{backend.name} — {args.units:,} units, {args.items:,} items; report for {period.label}")
        print(f"  first run (imports, templates): figures {first[0]:.2f} s, Word {first[1]:.2f} s")
        print(f"  report, median of {args.runs}: figures {data_s:.2f} s + Word {docx_s:.2f} s = "
              f"{data_s + docx_s:.2f} s ({runs[-1][2] / 1024:.0f} KB) — goal ≤ {GOAL_S:g} s: "
              f"{'met' if data_s + docx_s <= GOAL_S else 'NOT met'}")
        print(f"  baseline on the same data: the digest sweep for every recipient, median {statistics.median(digests):.2f} s")
        print(f"  figures: {s['new_items']} new, {s['closed_items']} closed, {s['open_items']} open at the month's end, "
              f"on-time {s['on_time_rate']} of {s['finished']}, {s['overdue']} overdue shares listed")
    finally:
        await backend.close(db)


async def main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    pg_url = os.environ.get("DUBAN_TEST_PG_URL")
    backends = [Backend("SQLite", bench="report", now=lambda: NOW)] + (
        [Backend("PostgreSQL", pg_url, bench="report", now=lambda: NOW)] if pg_url else [])
    print(f"report bench: report_data + report_docx; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for backend in backends:
        await run_backend(backend, args)
    if not pg_url:
        print("\nPostgreSQL not measured (set DUBAN_TEST_PG_URL)")
    print(f"(whole bench {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=1_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
