"""A whole year of 考核 for six units, from the first bulletin to the office head's approval.

城关镇        criticism bulletin −5, one late weekly feedback −2                     → 93
县交通运输局  lead of an NPC proposal finished late −2, commendation +5               → 103
县住建局      assisting on that proposal −1, assisting on a CPPCC motion open at year end −1 → 98
县财政局      lead of the CPPCC motion open at year end −2, fraud (disqualified)     → 98 ⛔
县水利局      criticism bulletin −5, reversed; a leader's item finished on time      → 100
县教育局      handled no item                                        → the average, 98.4
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from test_workflow_support import make_world, outbox, register

from bot.domain import assignments as asg
from bot.domain import review
from bot.domain.errors import DomainError
from bot.domain.ledger import approve_year, score_table, view_table, view_unit
from bot.domain.records import issue_bulletin
from bot.domain.score import add_manual_event, record_event, reverse_event
from bot.domain.workflow import AlreadyHandled, DeadlineSpec
from store.audit import Actor
from store.models import Unit
from store.records import Bulletin
from store.score import ScoreEvent, ScoreYear

OFFICE = "固镇县人民政府督查室"


def at(y: int, m: int, d: int, hour: int = 2) -> datetime:
    return datetime(y, m, d, hour, 0, tzinfo=UTC)  # 10:00 in Beijing


def share(item, unit) -> int:
    return next(a.id for a in item.assignments if a.unit_id == unit.id)


async def finish(db, clock, liaison, assignment_id, office, when):
    clock.set(when)
    async with db.session() as s:
        a = await s.get(asg.Assignment, assignment_id)
        if a.state == "assigned":
            await asg.acknowledge(s, liaison, assignment_id, now=clock.now())
        report = await asg.submit_report(s, liaison, assignment_id, text="已办结。", now=clock.now())
    async with db.session() as s:
        await review.approve_report(s, office, report.id, now=clock.now())


async def test_a_whole_year_of_scores(db, clock):
    clock.set(at(2026, 3, 10))
    w = await make_world(db, clock.now())
    async with db.session(Actor.system("test")) as s:
        s.add(Unit(name="县教育局", kind="部门", created_at=clock.now()))
    cg, jt, zj, cz, sl = (w.unit(k) for k in ("lead", "a1", "a2", "other", "water"))
    days7 = DeadlineSpec.working_days(7)

    # A key deployment for 城关镇 alone; a criticism bulletin and a late weekly feedback on it.
    deploy = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[])
    async with db.session() as s:
        issued = await issue_bulletin(s, w.office, item_id=deploy.id, unit_id=cg.id, kind="criticism",
                                      rule_code="criticism.decision", text="进度严重滞后，群众反映强烈。",
                                      office_name=OFFICE, now=clock.now())
        await record_event(s, year=2026, unit_id=cg.id, rule_code="late_feedback", now=clock.now(),
                           reason="第11周未反馈办理进展", item_id=deploy.id, automatic=True,
                           dedupe_key=f"feedback:{share(deploy, cg)}:2026-03-09")
        # the urging sweep running twice records it once
        assert await record_event(s, year=2026, unit_id=cg.id, rule_code="late_feedback", now=clock.now(),
                                  reason="第11周未反馈办理进展", item_id=deploy.id, automatic=True,
                                  dedupe_key=f"feedback:{share(deploy, cg)}:2026-03-09") is None
    async with db.session() as s:
        b = await s.get(Bulletin, issued.bulletin.id)
        event = await s.get(ScoreEvent, b.score_event_id)
        assert (event.unit_id, event.rule, event.points, event.item_id, event.automatic) == (
            cg.id, "criticism.decision", -5, deploy.id, True)
        assert event.recorded_by_id == w.office.id and "2026年第1期" in event.reason

    # An NPC proposal (lead 交通, assisting 住建), due Thu 03-19; both finish late; a commendation too.
    npc = await register(db, w, clock.now(), approve=True, source="proposal", importance="normal", deadline=days7,
                         title="关于改善城区公交线路的建议", lead_unit_id=jt.id, assisting_unit_ids=[zj.id])
    assert {a.due_date for a in npc.assignments} == {date(2026, 3, 19)}
    await finish(db, clock, w.a2_liaison, share(npc, zj), w.office, at(2026, 3, 24))
    await finish(db, clock, w.a1_liaison, share(npc, jt), w.office, at(2026, 3, 25))
    async with db.session() as s:
        await review.leader_agree(s, w.leader, npc.id, now=clock.now())
        await issue_bulletin(s, w.office, item_id=npc.id, unit_id=jt.id, kind="commendation", rule_code=None,
                             text="新开通两条公交线路，群众满意度高。", office_name=OFFICE, now=clock.now())

    # A leader's instruction for 水利, finished on time: nothing. A criticism bulletin, then reversed.
    lead_item = await register(db, w, clock.now(), approve=True, source="leader", importance="normal",
                               deadline=days7, lead_unit_id=sl.id, assisting_unit_ids=[])
    await finish(db, clock, w.water_liaison, share(lead_item, sl), w.office, at(2026, 3, 27))
    clock.set(at(2026, 4, 20))  # the leader reads it weeks after the unit reported: not the unit's delay
    async with db.session() as s:
        await review.leader_agree(s, w.leader, lead_item.id, now=clock.now())
        wrong = await issue_bulletin(s, w.office, item_id=lead_item.id, unit_id=sl.id, kind="criticism",
                                     rule_code="criticism.other", text="未按要求落实。", office_name=OFFICE,
                                     now=clock.now())
    async with db.session() as s:
        await reverse_event(s, w.office, wrong.bulletin.score_event_id, reason="通报对象有误，予以更正", now=clock.now())
    with pytest.raises(AlreadyHandled):
        async with db.session() as s:
            await reverse_event(s, w.office, wrong.bulletin.score_event_id, reason="再撤一次", now=clock.now())

    # A CPPCC motion (lead 财政, assisting 住建) due 11-30 and still open at year end; 财政 falsified it.
    cppcc = await register(db, w, clock.now(), approve=True, source="proposal", importance="normal",
                           deadline=DeadlineSpec.on_date(date(2026, 11, 30)), title="关于加强农村饮水安全的提案",
                           lead_unit_id=cz.id, assisting_unit_ids=[zj.id])
    clock.set(at(2026, 11, 20))
    async with db.session() as s:
        await add_manual_event(s, w.office, unit_id=cz.id, rule_code="fraud", item_id=cppcc.id,
                               reason="虚报已完成管网改造，经实地核查不实", now=clock.now())

    # December: the table so far, with the motion's shares pending (not counted yet).
    clock.set(at(2026, 12, 20))
    async with db.session() as s:
        table = await view_table(s, w.office, 2026, now=clock.now())
    assert {(p.unit_name, p.rule.code, p.rule.points) for p in table.pending} == {
        ("县财政局", "late.npc_cppcc.lead", -2), ("县住建局", "late.npc_cppcc.assist", -1)}
    assert table.row(cz.id).score == 100 and table.row(zj.id).score == 99
    with pytest.raises(DomainError, match="2026年度尚未结束"):
        async with db.session() as s:
            await approve_year(s, w.head, 2026, now=clock.now())

    # January: the office head approves; the pending deductions are recorded first.
    clock.set(at(2027, 1, 6))
    seen = (await outbox(db))[-1].id
    with pytest.raises(DomainError, match="只有督查室负责人"):
        async with db.session() as s:
            await approve_year(s, w.office, 2026, now=clock.now())
    async with db.session() as s:
        final = await approve_year(s, w.head, 2026, now=clock.now())

    expected = {  # unit: (score, rank, disqualified, handled)
        "县交通运输局": (Decimal(103), 1, False, True),
        "县水利局": (Decimal(100), 2, False, True),
        "县教育局": (Decimal("98.4"), 3, False, False),
        "县住建局": (Decimal(98), 4, False, True),
        "县财政局": (Decimal(98), 4, True, True),
        "城关镇": (Decimal(93), 6, False, True),
    }
    got = {r.unit: (r.score, r.rank, r.disqualified, r.handled) for r in final.rows}
    assert got == expected
    assert [r.unit for r in final.rows] == list(expected)
    assert final.average == Decimal("98.4") and final.frozen

    # Stored as approved, read back the same; every event names its item and rule.
    async with db.session() as s:
        again = await score_table(s, 2026, date(2027, 1, 6))
        assert {r.unit: (r.score, r.rank, r.disqualified, r.handled) for r in again.rows} == expected
        assert again.frozen and again.approved_by == "李主任"
        assert (await s.get(ScoreYear, 2026)).approved_by_id == w.head.id
        events = (await s.scalars(select(ScoreEvent).order_by(ScoreEvent.id))).all()
        assert all(e.item_id is not None and e.rule and e.reason for e in events)
        late = {(e.unit_id, e.rule, e.points) for e in events if e.rule.startswith("late.")}
        assert late == {(jt.id, "late.npc_cppcc.lead", -2), (zj.id, "late.npc_cppcc.assist", -1),
                        (cz.id, "late.npc_cppcc.lead", -2), (zj.id, "late.npc_cppcc.assist", -1)}
        v = await view_unit(s, w.head, 2026, sl.id, now=clock.now())
        assert v.row.score == 100 and [(e.points, e.reverses_id is not None) for e in v.events] == [(-5, False), (5, True)]
        assert v.events[0].reversed_by_id == v.events[1].id
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.office.id, w.office2.id}
    assert "2026年度政务督查考核结果已审定" in msgs[0].text and "⛔" in msgs[0].text

    # Frozen: nothing more for 2026, whatever the path.
    count = await _events(db)
    for call in (
        lambda s: record_event(s, year=2026, unit_id=cg.id, rule_code="late_feedback", reason="补记", now=clock.now(),
                               item_id=deploy.id),
        lambda s: add_manual_event(s, w.office, unit_id=cg.id, rule_code="criticism.other", item_id=deploy.id,
                                   reason="补记", year=2026, now=clock.now()),
        lambda s: reverse_event(s, w.office, events[0].id, reason="更正", now=clock.now()),
    ):
        with pytest.raises(DomainError, match="2026年度考核结果已审定"):
            async with db.session() as s:
                await call(s)
    with pytest.raises(AlreadyHandled):
        async with db.session() as s:
            await approve_year(s, w.head, 2026, now=clock.now())
    assert await _events(db) == count


async def _events(db) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(ScoreEvent))
