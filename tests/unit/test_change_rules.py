"""The rules of fixing mistakes (bot.domain.changes, issue 12): who may, from which states, what a
change does to deadlines and shares, what is recorded and who is told."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from test_workflow_support import CAL, make_world, outbox, register, to

from bot.domain import changes as chg
from bot.domain import score
from bot.domain.change_log import change_entry
from bot.domain.dossier import dossier
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.workflow import DeadlineSpec, InvalidState
from store.changes import ItemChange
from store.models import AuditEntry
from store.workflow import Assignment, Item


def test_requirements_and_their_reason_come_in_one_message():
    assert chg.split_requirements("全部修复。\n理由：标准提高") == ("全部修复。", "标准提高")
    assert chg.split_requirements("第一行\n第二行\n变更理由: 会议决定\n补充说明") == ("第一行\n第二行", "会议决定\n补充说明")
    with pytest.raises(DomainError, match="理由"):
        chg.split_requirements("全部修复。")


def test_a_drafts_deadline_is_typed_as_working_days_or_a_date():
    today = date(2026, 3, 10)
    assert chg.deadline_from_text("12", today) == DeadlineSpec(days=12)
    assert chg.deadline_from_text("12个工作日", today) == DeadlineSpec(days=12)
    assert chg.deadline_from_text("2026-04-30", today) == DeadlineSpec(on=date(2026, 4, 30))
    with pytest.raises(DomainError):
        chg.deadline_from_text("0", today)
    with pytest.raises(DomainError):
        chg.deadline_from_text("2026-03-01", today)  # in the past


def test_the_dossier_reads_each_change_with_its_reason():
    class Row:
        kind, reason, status, decision_note, new_text, unit = "deadline", "会议调整", "approved", None, None, None
        new_due, before = date(2026, 5, 29), {"due": "2026-03-24"}

    assert change_entry("change_request", Row) == ("申请变更办结时限", "会议调整", "办结时限由 2026-03-24 改为 2026-05-29")
    assert change_entry("change", Row)[0] == "同意变更办结时限"
    Row.status, Row.decision_note = "rejected", "不需变更"
    assert change_entry("change", Row) == ("不同意变更办结时限", "不需变更", "申请理由：会议调整")
    assert change_entry("withdraw", None) == ("撤回立项申请", None, None)


async def test_drafts_are_edited_withdrawn_by_their_submitter_only_and_deleted(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    item = await register(db, w, now, submit=True)
    async with db.session() as s:
        with pytest.raises(NotAllowed, match="只有提交审批的人"):
            await chg.withdraw_item(s, w.office2, item.id, now=now)
    async with db.session() as s:
        with pytest.raises(NotAllowed):
            await chg.withdraw_item(s, w.lead_liaison, item.id, now=now)
    async with db.session() as s:
        with pytest.raises(InvalidState):  # a pending item is not edited: withdraw it first
            await chg.edit_draft(s, w.office, item.id, field="title", text="新名称", calendar=CAL, now=now)
    async with db.session() as s:
        await chg.withdraw_item(s, w.office, item.id, now=now)
    heads = to(await outbox(db), w.head)
    assert "立项申请已撤回" in heads[-1].text

    async with db.session() as s:
        await chg.edit_draft(s, w.office2, item.id, field="lead", unit_id=w.unit("a1").id, calendar=CAL, now=now)
        await chg.edit_draft(s, w.office2, item.id, field="remove_assist", unit_id=w.unit("a2").id, calendar=CAL,
                             now=now)
        with pytest.raises(DomainError, match="是主办单位，不能移除"):
            await chg.edit_draft(s, w.office2, item.id, field="remove_assist", unit_id=w.unit("a1").id,
                                 calendar=CAL, now=now)
    async with db.session() as s:
        roles = {a.unit.name: a.role for a in (await s.scalars(select(Assignment))).all()}
    assert roles == {"县交通运输局": "lead"}  # the old lead left with the lead's place; 县住建局 removed

    async with db.session() as s:
        with pytest.raises(DomainError, match="删除理由不能为空"):
            await chg.delete_draft(s, w.office2, item.id, reason=" ", now=now)
    async with db.session() as s:
        await chg.delete_draft(s, w.office2, item.id, reason="重复登记", now=now)
    async with db.session() as s:
        assert (await s.get(Item, item.id)).state == "deleted"
        d = await dossier(s, item.id)
        assert [e.label for e in d.entries][-2:] == ["撤回立项申请", "删除草稿"]
        assert d.entries[-1].text == "重复登记"
        audited = (await s.scalars(select(AuditEntry.action).where(AuditEntry.entity.in_(("items", "assignments"))))).all()
    assert {"item.withdraw", "item.update", "item.delete"} <= set(audited)


async def test_changes_are_proposed_by_the_office_and_decided_by_the_head(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    item = await register(db, w, now, approve=True, deadline=DeadlineSpec.working_days(10))
    new_due = item.due_date + timedelta(days=14)
    p = chg.Proposal("deadline", "会议调整", new_due=new_due)
    async with db.session() as s:
        with pytest.raises(NotAllowed, match="只有督查室工作人员"):
            await chg.propose_change(s, w.head, item.id, p, now=now)
    async with db.session() as s:
        with pytest.raises(DomainError, match="无需变更"):
            await chg.propose_change(s, w.office, item.id, chg.Proposal("deadline", "x", new_due=item.due_date),
                                     now=now)
        with pytest.raises(DomainError, match="是主办单位，不能撤出"):
            await chg.propose_change(s, w.office, item.id, chg.Proposal("remove_unit", "x",
                                                                         unit_id=w.unit("lead").id), now=now)
        with pytest.raises(InvalidState):  # only a suspended item resumes
            await chg.propose_change(s, w.office, item.id, chg.Proposal("resume", "x"), now=now)
    async with db.session() as s:
        change = await chg.propose_change(s, w.office, item.id, p, now=now)
    async with db.session() as s:
        with pytest.raises(NotAllowed, match="只有督查室负责人"):
            await chg.approve_change(s, w.office2, change.id, calendar=CAL, now=now)
    before = len(await outbox(db))
    async with db.session() as s:
        await chg.approve_change(s, w.head, change.id, calendar=CAL, now=now)
    async with db.session() as s:
        dues = {a.unit_id: a.due_date for a in (await s.scalars(select(Assignment))).all()}
        assert set(dues.values()) == {new_due} and (await s.get(Item, item.id)).due_date == new_due
    sent = (await outbox(db))[before:]
    told = {m.person_id for m in sent}
    assert {w.lead_liaison.id, w.lead_head.id, w.a1_liaison.id, w.a2_liaison.id, w.a2_head.id, w.leader.id,
            w.office.id} <= told
    assert w.other_liaison.id not in told


async def test_a_suspension_stops_the_clock_and_a_cancelled_item_is_not_scored(db, clock):
    w = await make_world(db, clock.now())
    now = clock.now()
    item = await register(db, w, now, approve=True, deadline=DeadlineSpec.working_days(10))
    due = item.due_date

    async def decided(kind: str, at) -> None:
        async with db.session() as s:
            c = await chg.propose_change(s, w.office, item.id, chg.Proposal(kind, "理由"), now=at)
        async with db.session() as s:
            await chg.approve_change(s, w.head, c.id, calendar=CAL, now=at)

    await decided("suspend", now)
    async with db.session() as s:
        states = {a.state for a in (await s.scalars(select(Assignment))).all()}
    assert states == {"suspended"}
    later = now + timedelta(days=7)  # five working days later (CAL: weekends only)
    await decided("resume", later)
    async with db.session() as s:
        shares = (await s.scalars(select(Assignment))).all()
        assert {a.state for a in shares} == {"assigned"}
        assert {a.due_date for a in shares} == {CAL.add_working_days(due, 5).due}
        assert {a.extension_count for a in shares} == {0}  # not an extension: nothing docked
        resume = await s.scalar(select(ItemChange).where(ItemChange.kind == "resume"))
        assert resume.before["paused_working_days"] == 5

    await decided("cancel", later)
    async with db.session() as s:
        assert (await s.get(Item, item.id)).state == "cancelled"
        assert {a.state for a in (await s.scalars(select(Assignment))).all()} == {"cancelled"}
    assert "cancelled" not in score._COUNTED_STATES
