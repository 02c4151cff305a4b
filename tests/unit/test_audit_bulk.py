"""Writes the audit hooks cannot see (Core INSERT/UPDATE statements) leave their audit rows: the
item counter one row per number, the sweeps' reminders and the office's outbox retry one
summarised row per statement."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from test_urging import sign_all
from test_workflow_support import CAL, make_world, register

from bot.domain.urging import escalation_sweep, retry_failed
from bot.domain.workflow import DeadlineSpec
from bot.kernel.config import Settings
from bot.outbox.queue import enqueue
from store.audit import BULK_ID, Actor
from store.models import AuditEntry, OutboxMessage
from store.urging import Reminder


def at(day: date, hh: int = 9) -> datetime:
    """A local (Beijing) time as the aware UTC datetime the code works with."""
    return datetime.combine(day, time(hh), tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


async def audit_rows(db, entity: str) -> list[AuditEntry]:
    async with db.session() as s:
        return list((await s.scalars(select(AuditEntry).where(AuditEntry.entity == entity)
                                     .order_by(AuditEntry.id))).all())


async def test_each_item_number_taken_is_audited_under_the_approval(db, clock):
    w = await make_world(db, clock.now())
    first = await register(db, w, clock.now(), approve=True)
    second = await register(db, w, clock.now(), approve=True)
    rows = await audit_rows(db, "item_counters")
    assert [(r.entity_id, r.action, r.actor_id, r.before, r.after) for r in rows] == [
        ("2026", "item.approve", w.head.id, None, {"year": 2026, "last_number": 1}),
        ("2026", "item.approve", w.head.id, {"last_number": 1}, {"last_number": 2}),
    ]
    assert (first.number, second.number) == (1, 2)


async def test_a_sweeps_reminders_leave_one_summarised_audit_row(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    await sign_all(db, clock.now())  # only the deadline's rungs (an unsigned notice has its own)
    async with db.session(Actor.system("sweep:escalation"), "sweep.escalation") as s:
        result = await escalation_sweep(s, CAL, at(date(2026, 3, 16)), Settings())
    async with db.session() as s:
        written = list((await s.scalars(select(Reminder))).all())
    (row,) = await audit_rows(db, "reminders")
    assert (row.entity_id, row.action, row.actor_label, row.actor_id) == (BULK_ID, "sweep.escalation",
                                                                          "sweep:escalation", None)
    n = len(written)  # liaisons, heads and the office (who exactly is bot.domain.urging's business)
    assert n == result.reminders and n >= 3
    assert row.after == {"rows": n, "planned": n, "levels": {"overdue": n}, "days": ["2026-03-16"]}
    # The same round again writes no rungs, and so no audit row.
    async with db.session(Actor.system("sweep:escalation"), "sweep.escalation") as s:
        assert (await escalation_sweep(s, CAL, at(date(2026, 3, 16)), Settings())).reminders == 0
    assert len(await audit_rows(db, "reminders")) == 1


async def test_the_offices_retry_of_undelivered_messages_is_audited(db, clock):
    w = await make_world(db, clock.now())
    async with db.session() as s:
        for i in range(3):
            await enqueue(s, w.lead_liaison, f"消息{i}", now=clock.now())
        await s.execute(update(OutboxMessage).values(status="failed", attempts=5, claimed_at=clock.now()))
    clock.advance(minutes=5)
    async with db.session(Actor(w.office.id, w.office.name), "outbox.retry") as s:
        assert await retry_failed(s, clock.now() - timedelta(days=3), clock.now()) == 3
    (row,) = await audit_rows(db, "outbox")
    assert (row.entity_id, row.action, row.actor_id, row.at) == (BULK_ID, "outbox.retry", w.office.id, clock.now())
    assert row.after == {"rows": 3, "since": (clock.now() - timedelta(days=3)).isoformat(),
                         "by_status": {"failed": 3, "unreachable": 0, "unbound": 0}}
    # Nothing left to retry: nothing to audit.
    async with db.session(Actor(w.office.id, w.office.name), "outbox.retry") as s:
        assert await retry_failed(s, clock.now() - timedelta(days=3), clock.now()) == 0
    assert len(await audit_rows(db, "outbox")) == 1
