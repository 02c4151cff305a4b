"""分工 per unit and 督查室自办 (issue 12 point 6): a unit's new deadline and reason, a draft unit's
own deadline as asked and fixed at approval, the refusals, an item the office handles itself."""

from __future__ import annotations

from datetime import date

import pytest
from test_workflow_support import CAL, make_world, register

from bot.domain import changes as chg
from bot.domain import office_items
from bot.domain.changes import split_dated
from bot.domain.errors import DomainError
from bot.domain.items import unit_deadline_spec
from bot.domain.workflow import DeadlineSpec
from store.workflow import Assignment, Item

TODAY = date(2026, 3, 10)


def test_a_units_new_deadline_comes_first_then_the_reason():
    assert split_dated("2026-03-16 理由：交通疏导须先于施工完成", TODAY) == (date(2026, 3, 16), "交通疏导须先于施工完成")
    assert split_dated("2026-03-16，先行完成", TODAY) == (date(2026, 3, 16), "先行完成")


@pytest.mark.parametrize("text", ["", "理由：没有日期", "下个月 理由：太含糊"])
def test_without_a_date_first_it_is_refused_in_chinese(text):
    with pytest.raises(DomainError, match="请先写新的办结日期"):
        split_dated(text, TODAY)


def test_a_draft_share_keeps_its_own_deadline_as_asked_until_approval():
    a = Assignment(state="draft", due_days=3, due_date=None)
    assert unit_deadline_spec(a) == DeadlineSpec(days=3)
    assert unit_deadline_spec(Assignment(state="draft", due_days=None, due_date=None)) is None
    # Once approved, due_date is the deadline in force, not a wish.
    assert unit_deadline_spec(Assignment(state="assigned", due_days=3, due_date=date(2026, 3, 13))) is None


async def test_units_get_their_own_task_and_deadline_at_approval(db, clock):
    w = await make_world(db, clock.now())
    lead, a1 = w.unit("lead").id, w.unit("a1").id
    item = await register(
        db, w, clock.now(), approve=True, unit_tasks={a1: "负责交通疏导"}, unit_deadlines={a1: DeadlineSpec(days=3)}
    )
    async with db.session() as s:
        shares = {a.unit_id: (a.task, a.due_date) for a in (await s.get(Item, item.id)).assignments}
    assert shares[a1] == ("负责交通疏导", CAL.add_working_days(date(2026, 3, 10), 3).due)
    assert shares[lead] == (None, CAL.add_working_days(date(2026, 3, 10), 7).due)  # the item's, as before


async def test_shares_are_refused_for_other_units_and_confidential_items(db, clock):
    w = await make_world(db, clock.now())
    with pytest.raises(DomainError, match="分工只能填写本事项的承办单位"):
        await register(db, w, clock.now(), assisting_unit_ids=[], unit_tasks={w.unit("a1").id: "协办"})
    with pytest.raises(DomainError, match="涉密事项的分工不在此填写"):
        await register(db, w, clock.now(), confidential=True, unit_tasks={w.unit("a1").id: "协办"})


async def test_an_office_handled_item_has_no_unit_and_is_handled_from_approval(db, clock):
    w = await make_world(db, clock.now())
    with pytest.raises(DomainError, match="督查室自办的事项不交办承办单位"):
        await register(db, w, clock.now(), office_handled=True, assisting_unit_ids=[])
    with pytest.raises(DomainError, match="请选择主办单位"):
        await register(db, w, clock.now(), lead_unit_id=None, assisting_unit_ids=[])
    item = await register(db, w, clock.now(), approve=True, office_handled=True, lead_unit_id=None, assisting_unit_ids=[])
    async with db.session() as s:
        item = await s.get(Item, item.id)
        assert (item.state, item.weekly_feedback, item.assignments) == ("in_progress", False, [])
        with pytest.raises(DomainError, match="督查室自办的事项没有承办单位"):
            await chg.propose_change(s, w.office, item.id, chg.Proposal("add_unit", "需要协办", unit_id=w.unit("a1").id),
                                     now=clock.now())
    async with db.session() as s:
        report = await office_items.report_result(s, w.office, item.id, text="制度已修订", now=clock.now())
        assert (await s.get(Item, item.id)).state == "leader_review" and report.text == "制度已修订"
    async with db.session() as s:
        with pytest.raises(DomainError):  # a unit's item is reported by its lead unit, not the office
            unit_item = await register(db, w, clock.now(), approve=True)
            await office_items.report_result(s, w.office, unit_item.id, text="代为报送", now=clock.now())
