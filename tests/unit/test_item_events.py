"""An item's business history (item_events): written by the services at each moment, read by the
dossier; the audit trail is not read for it, and the backfill rebuilds it for items from before."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from test_workflow_support import CAL, make_world, register

from bot.domain import assignments as asg
from bot.domain import items as items_svc
from bot.domain import records, review
from bot.domain.assignments import MilestoneIn
from bot.domain.dossier import dossier
from bot.domain.events import item_events, record_item_event
from store.events import ItemEvent
from store.models import AuditEntry
from store.workflow import Assignment, Item, Progress

MIGRATION = Path(__file__).resolve().parents[2] / "store/migrations/versions/0011_item_events.py"


def _backfill():
    spec = importlib.util.spec_from_file_location("migration_0011", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.backfill


async def _a_full_life(db, clock) -> tuple:
    """Returned once, approved, worked on by two units (one passes it on), closed and archived."""
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), submit=True, assisting_unit_ids=[w.unit("a1").id])
    async with db.session() as s:
        await items_svc.reject_item(s, w.head, item.id, reason="请补充工作要求。", now=clock.now())
    clock.advance(hours=1)
    async with db.session() as s:
        await items_svc.submit_item(s, w.office, item.id, now=clock.now())
    clock.advance(hours=1)
    async with db.session() as s:
        item = await items_svc.approve_item(s, w.head, item.id, calendar=CAL, now=clock.now())
        ids = {a.unit_id: a.id for a in item.assignments}
    lead_a, a1_a = ids[w.unit("lead").id], ids[w.unit("a1").id]
    clock.advance(hours=1)
    async with db.session() as s:
        await asg.acknowledge(s, w.lead_liaison, lead_a, now=clock.now())
        plan = await asg.submit_plan(s, w.lead_liaison, lead_a, text="分三段施工。",
                                     milestones=[MilestoneIn(date(2026, 3, 13), "东段完工")], now=clock.now())
        milestone_id = plan.milestones[0].id
    clock.advance(hours=1)
    async with db.session() as s:
        await asg.complete_milestone(s, w.lead_liaison, milestone_id, now=clock.now())
        await asg.add_progress(s, w.lead_liaison, lead_a, text="东段已完工。", now=clock.now())
        ext = await asg.request_extension(s, w.a1_liaison, a1_a, new_due=date(2026, 3, 31), reason="材料未到。",
                                          now=clock.now())
        t = await asg.request_transfer(s, w.a1_liaison, a1_a, reason="不属本局职责。", now=clock.now())
    clock.advance(hours=1)
    async with db.session() as s:
        new = await asg.approve_transfer(s, w.office, t.id, to_unit_id=w.unit("water").id, calendar=CAL,
                                         now=clock.now())
        new_a = new.id
    clock.advance(hours=1)
    async with db.session() as s:
        call = await records.record_call(s, w.office, item_id=item.id, unit_id=w.unit("lead").id, contact="陈联络",
                                         occurred_at=clock.now() - timedelta(minutes=30), summary="询问进度。",
                                         promise="本周完成。", now=clock.now())
        await records.confirm_record(s, w.lead_liaison, call.record.id, now=clock.now())
        await records.record_visit(s, w.office, item_id=item.id, unit_id=w.unit("lead").id,
                                   occurred_at=clock.now(), summary="现场路面已修复。", unannounced=True, now=clock.now())
    clock.advance(hours=1)
    async with db.session() as s:
        await asg.decline_assist(s, w.water_liaison, new_a, reason="不在本局范围。", now=clock.now())
        r1 = await asg.submit_report(s, w.lead_liaison, lead_a, text="已修复。", now=clock.now())
        await review.return_report(s, w.office, r1.id, reason="缺照片。", now=clock.now())
    clock.advance(hours=1)
    async with db.session() as s:
        r2 = await asg.submit_report(s, w.lead_liaison, lead_a, text="已补照片。", now=clock.now())
        await review.approve_report(s, w.office, r2.id, now=clock.now())
    clock.advance(hours=1)
    async with db.session() as s:
        await review.leader_instruct(s, w.leader, item.id, instruction="做好养护。", now=clock.now())
    async with db.session() as s:
        await items_svc.archive_item(s, w.office, item.id, now=clock.now())
    return w, item.id, (lead_a, a1_a, new_a), ext.id


async def test_each_moment_is_one_event_with_its_actor_and_record(db, clock):
    w, item_id, (lead_a, a1_a, new_a), ext_id = await _a_full_life(db, clock)
    async with db.session() as s:
        events = await item_events(s, item_id)
        progress_id = (await s.scalars(select(Progress.id))).one()
    assert [e.kind for e in events] == [
        "register", "submit", "reject", "submit", "approve", "notice", "notice",
        "acknowledge", "plan", "milestone", "progress", "acknowledge", "extension_request", "transfer_request",
        "extension_decision", "transfer_decision", "notice",
        "call", "call_answer", "visit",
        "decline", "report", "review", "report", "review",
        "leader_review", "close", "archive",
    ]
    who = {e.kind: e.actor_id for e in events}
    assert who["register"] == who["archive"] == w.office.id and who["approve"] == w.head.id
    assert who["progress"] == w.lead_liaison.id and who["call_answer"] == w.lead_liaison.id
    assert who["leader_review"] == who["close"] == w.leader.id and who["decline"] == w.water_liaison.id
    by_kind = {e.kind: e for e in events}
    assert (by_kind["progress"].assignment_id, by_kind["progress"].ref_id) == (lead_a, progress_id)
    assert (by_kind["extension_decision"].assignment_id, by_kind["extension_decision"].ref_id) == (a1_a, ext_id)
    assert [e.assignment_id for e in events if e.kind == "notice"] == [lead_a, a1_a, new_a]
    # The moments carry the times of the records they tell about.
    async with db.session() as s:
        item = await s.get(Item, item_id)
        assert (by_kind["close"].at, by_kind["archive"].at) == (item.closed_at, item.archived_at)
        # 申请延期 before 签收 acknowledged the assisting unit first, at the same moment.
        assert by_kind["acknowledge"].at == (await s.get(Assignment, a1_a)).acknowledged_at == by_kind[
            "extension_request"].at


async def test_the_dossier_reads_events_not_the_audit_trail(db, clock):
    w, item_id, _, _ = await _a_full_life(db, clock)
    async with db.session() as s:
        before = await dossier(s, item_id)
        await s.execute(delete(AuditEntry))
    async with db.session() as s:
        after = await dossier(s, item_id)
    assert after == before
    # Both submissions (the one returned and the one approved) are on the timeline.
    assert [e.label for e in before.entries if e.kind in ("submit", "reject", "approve")] == [
        "提交审批", "退回立项申请", "提交审批", "审批同意"]
    labels = [e.label for e in before.entries]
    for label in ("时间节点完成", "延期申请撤销（已转办）", "同意转办", "电话督查", "确认电话督查记录",
                  "实地督查（暗访）", "报告无法协办", "退回重办", "审核通过", "领导批示", "办结", "归档"):
        assert labels.count(label) == 1, label
    # A unit never sees an unannounced visit.
    async with db.session() as s:
        mine = await dossier(s, item_id, w.lead_liaison)
    assert [e for e in mine.entries if e.kind == "visit"] == []
    assert len(mine.entries) == len(before.entries) - 1


async def test_the_backfill_rebuilds_the_history_of_items_from_before(db, clock):
    _, item_id, _, _ = await _a_full_life(db, clock)
    async with db.session() as s:
        before = await dossier(s, item_id)
        await s.execute(delete(ItemEvent))
    async with db.session() as s:
        assert (await dossier(s, item_id)).entries == ()  # the timeline is the events
    async with db.engine.begin() as conn:
        await conn.run_sync(_backfill())
    async with db.session() as s:
        rebuilt = await dossier(s, item_id)
    assert rebuilt == before


async def test_an_event_names_a_known_kind_and_the_record_its_kind_implies(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now())
    async with db.session() as s:
        with pytest.raises(ValueError, match="unknown item event kind 'reminded'"):
            await record_item_event(s, "reminded", item.id, clock.now())
        progress = Progress(assignment_id=item.assignments[0].id, text="x", created_by_id=w.office.id,
                            created_at=clock.now())
        with pytest.raises(ValueError, match="an event 'report' refers to completion_reports, not progress"):
            await record_item_event(s, "report", item.id, clock.now(), ref=progress)
        with pytest.raises(ValueError, match="an event 'close' refers to None, not progress"):
            await record_item_event(s, "close", item.id, clock.now(), ref=progress)
