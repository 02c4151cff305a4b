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


async def test_a_page_read_as_rows_shows_what_the_items_themselves_show(db, clock):
    """The list reads plain rows, not ORM objects: each summary must be the one ``summarize``
    makes of the loaded item — units in order, lights, the person's own share, no-unit and
    confidential items, drafts — for every kind of asker."""
    w = await make_world(db, clock.now())
    now = clock.now()
    await register(db, w, now, approve=True, title="三个单位的事项")
    await register(db, w, now, approve=True, title="只有主办", assisting_unit_ids=[])
    await register(db, w, now, approve=True, title="自办", office_handled=True, lead_unit_id=None, assisting_unit_ids=[])
    await register(db, w, now, approve=True, title="秘密事项", confidential=True)
    await register(db, w, now, title="草稿事项")
    async with db.session() as s:
        loaded = {i.id: i for i in (await s.scalars(select(Item))).all()}
    for me in (w.office, w.head, w.leader, w.lead_liaison, w.a1_liaison, w.lead_head):
        async with db.session() as s:
            page = await open_items_for(s, me, None, 1, 50, calendar=CAL, now=now)
        assert page.items, me.name
        assert list(page.items) == [summarize(loaded[p.id], me, CAL, now) for p in page.items], me.name
    async with db.session() as s:
        office = await open_items_for(s, w.office, None, 1, 50, calendar=CAL, now=now)
    shown = {p.title: p for p in office.items}
    assert [a.unit_name for a in shown["三个单位的事项"].assignments] == [
        w.unit("lead").name, w.unit("a1").name, w.unit("a2").name]
    assert shown["自办"].assignments == () and shown["自办"].light is not None
    assert "秘密事项" not in shown and shown["草稿事项"].label.startswith("登记号")
