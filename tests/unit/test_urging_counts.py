"""A reminder counts the same thing in its headline and its sections: items (issue 12 point 10).
The office hears of one item with three units overdue as 「您有1项…已超期」 and 「已超期（1）」,
each unit's share still listed on its own line."""

from datetime import date

from bot.domain.workflow import DeadlineSpec
from tests.unit.test_urging import at, make_world, outbox, register, sweep, to


async def test_the_office_reads_one_item_with_three_units_as_one(db, clock):
    w = await make_world(db, clock.now())
    await register(db, w, clock.now(), approve=True, deadline=DeadlineSpec.on_date(date(2026, 3, 13)))
    seen = (await outbox(db))[-1].id
    await sweep(db, at(date(2026, 3, 16)))
    (m,) = to(await outbox(db, seen), w.office)
    assert "您有1项督办事项已超期" in m.text and "已超期（1）" in m.text and "已超期（3）" not in m.text
    assert all(u in m.text for u in ("城关镇", "县交通运输局", "县住建局"))
