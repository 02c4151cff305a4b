"""/items sorts, filters and pages in SQL: the order must be the one the lights define (worst light
first, then the due date shown, then the id), whatever mix of deadlines, states and roles."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select, update
from test_workflow_support import CAL, make_world, register

from bot.domain.views import ItemFilters, open_items_for, summarize
from bot.domain.workflow import DeadlineSpec, OPEN_ITEM_STATES, can_view, local_date
from store.workflow import Assignment, Item


def reference(items, me, now, light=None):
    """The order the list had when it was sorted in Python (the definition of the order)."""
    only_units = not me.has_role("office", "office_head", "leader")
    out = []
    for item in items:
        if item.state not in OPEN_ITEM_STATES or not can_view(me, item):
            continue
        s = summarize(item, me, CAL, now)
        if only_units and s.my_assignment_id is None:
            continue
        if light and (s.light is None or s.light.code != light):
            continue
        out.append(s)
    out.sort(key=lambda s: (-(s.light.rank if s.light else -1), s.due or date.max, s.id))
    return [s.id for s in out]


async def test_sql_order_and_filters_match_the_lights(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    today = local_date(now)
    rnd = random.Random(7)
    for n in range(18):
        assists = [w.unit("a1").id] if n % 3 else []
        await register(db, w, now, approve=n % 5 != 4, submit=n % 5 == 4, title=f"事项{n}",
                       assisting_unit_ids=assists, deadline=DeadlineSpec.working_days(rnd.randint(1, 12)))
    async with db.session() as s:  # deadlines moved into the past and onto equal days; reports in
        ids = (await s.scalars(select(Assignment.id).where(Assignment.due_date.is_not(None))
                               .order_by(Assignment.id))).all()
        for aid in ids[::4]:
            await s.execute(update(Assignment).where(Assignment.id == aid)
                            .values(due_date=today - timedelta(days=rnd.randint(0, 6))))
        for aid in ids[1::7]:
            await s.execute(update(Assignment).where(Assignment.id == aid).values(state="reported"))
        for aid in ids[2::9]:
            await s.execute(update(Assignment).where(Assignment.id == aid).values(due_date=None))

    async with db.session() as s:
        items = (await s.scalars(select(Item).order_by(Item.id))).all()
    for me in (w.office, w.head, w.leader, w.lead_liaison, w.a1_liaison, w.lead_head):
        for light in (None, "red", "yellow", "green"):
            expected = reference(items, me, now, light)
            got, page = [], 1
            async with db.session() as s:
                while True:
                    p = await open_items_for(s, me, ItemFilters(light=light), page, 4, calendar=CAL, now=now)
                    assert p.total == len(expected)
                    got += [i.id for i in p.items]
                    if page >= p.pages:
                        break
                    page += 1
            assert got == expected, (me.name, light)
    assert reference(items, w.office, now, "red") and reference(items, w.office, now, "yellow")


async def test_a_page_past_the_end_is_empty_with_the_right_total(db, clock):
    w = await make_world(db, clock.now())
    for n in range(3):
        await register(db, w, clock.now(), approve=True, title=f"事项{n}")
    async with db.session() as s:
        p = await open_items_for(s, w.office, None, 9, 2, calendar=CAL, now=clock.now())
    assert (p.items, p.total, p.pages) == ((), 3, 2)
