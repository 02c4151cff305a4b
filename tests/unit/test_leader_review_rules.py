"""Issue 12 point 5, the domain rules: 退回重办 by the leader, 批示 on an open item, the principal
leader's county-wide list (bot.domain.review, bot.domain.views, bot.domain.workflow.can_view)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_workflow_support import CAL, data_of, make_world, outbox, register

from bot.domain import assignments as asg
from bot.domain import review
from bot.domain.dossier import dossier
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.views import item_detail, open_items_for
from bot.domain.workflow import AlreadyHandled, InvalidState, can_view, load_item
from store.audit import Actor
from store.events import ItemEvent
from store.models import Person, PersonRole
from store.workflow import Assignment, Item, LeaderReview


async def _to_leader_review(db, clock, w) -> tuple[int, int]:
    """An approved item whose lead unit reported and the office approved: (item id, lead assignment id)."""
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[w.unit("a1").id])
    lead_a = next(a.id for a in item.assignments if a.role == "lead")
    async with db.session() as s:
        await asg.acknowledge(s, w.lead_liaison, lead_a, now=clock.now())
        report = await asg.submit_report(s, w.lead_liaison, lead_a, text="已修复。", now=clock.now())
    async with db.session() as s:
        await review.approve_report(s, w.office, report.id, now=clock.now())
        assert (await s.get(Item, item.id)).state == "leader_review"
    return item.id, lead_a


async def _kinds(db, item_id: int) -> list[str]:
    async with db.session() as s:
        return list((await s.scalars(select(ItemEvent.kind).where(ItemEvent.item_id == item_id)
                                     .order_by(ItemEvent.id))).all())


async def test_leader_return_reopens_the_lead_unit_and_does_not_close(db, clock):
    w = await make_world(db, clock.now())
    item_id, lead_a = await _to_leader_review(db, clock, w)
    seen = (await outbox(db))[-1].id
    clock.advance(hours=1)
    async with db.session() as s:
        r = await review.leader_return(s, w.leader, item_id, reason="  西段尚未修复。 ", now=clock.now())
        assert (r.decision, r.instruction) == ("return", "西段尚未修复。")
        item = await s.get(Item, item_id, populate_existing=True)
        a = await s.get(Assignment, lead_a, populate_existing=True)
        assert (item.state, item.closed_at) == ("in_progress", None)
        assert (a.state, a.redo_count, a.done_at) == ("in_progress", 1, None)
    assert (await _kinds(db, item_id))[-1] == "leader_return"
    msgs = await outbox(db, seen)
    told = {m.person_id for m in msgs}
    # The lead unit's liaison and head, the assisting unit's liaison, the follower (its registrant).
    assert told == {w.lead_liaison.id, w.lead_head.id, w.a1_liaison.id, w.office.id}
    (lm,) = [m for m in msgs if m.person_id == w.lead_liaison.id]
    assert data_of(lm) == [[f"a:prg:{lead_a}", f"a:rpt:{lead_a}"]] and "西段尚未修复" in lm.text
    # A second return (another leader's stale tap) is already handled; a closing answer now meets
    # an item being handled again.
    async with db.session() as s:
        with pytest.raises(AlreadyHandled, match="当前为「办理中」，此操作已处理过"):
            await review.leader_return(s, w.leader, item_id, reason="再退一次", now=clock.now())
        with pytest.raises(InvalidState, match="不能审阅同意"):
            await review.leader_agree(s, w.leader, item_id, now=clock.now())
    # The report must be resubmitted; once approved again the leader closes it with 批示.
    clock.advance(days=1)
    async with db.session() as s:
        report = await asg.submit_report(s, w.lead_liaison, lead_a, text="两段均已修复。", now=clock.now())
    async with db.session() as s:
        await review.approve_report(s, w.office, report.id, now=clock.now())
        await review.leader_instruct(s, w.leader, item_id, instruction="同意。", now=clock.now())
        assert (await s.get(Item, item_id, populate_existing=True)).state == "closed"
    async with db.session() as s:
        d = await dossier(s, item_id, w.office)
        labels = [e.label for e in d.entries]
        assert labels.index("领导退回重办") < labels.index("领导批示")


async def test_leader_return_refusals(db, clock):
    w = await make_world(db, clock.now())
    item_id, _ = await _to_leader_review(db, clock, w)
    async with db.session() as s:
        for person in (w.leader2, w.office, w.lead_liaison):
            with pytest.raises(NotAllowed, match="只有本事项的责任领导才能批示或退回"):
                await review.leader_return(s, person, item_id, reason="理由", now=clock.now())
        for blank in ("", "   ", None):
            with pytest.raises(DomainError, match="退回理由不能为空"):
                await review.leader_return(s, w.leader, item_id, reason=blank, now=clock.now())
        with pytest.raises(DomainError, match="退回理由太长"):
            await review.leader_return(s, w.leader, item_id, reason="字" * 2001, now=clock.now())
        await review.leader_agree(s, w.leader, item_id, now=clock.now())
    async with db.session() as s:
        with pytest.raises(AlreadyHandled, match="已审阅办结"):
            await review.leader_return(s, w.leader, item_id, reason="晚了", now=clock.now())
        assert [r.decision for r in (await s.scalars(select(LeaderReview))).all()] == ["agree"]


async def test_instruction_on_an_open_item_reaches_the_units_and_changes_no_state(db, clock):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True)
    seen = (await outbox(db))[-1].id
    async with db.session() as s:
        r = await review.leader_direct(s, w.leader, item.id, instruction="注意夜间施工安全。", now=clock.now())
        assert r.decision == "direct"
        fresh = await load_item(s, item.id)
        assert fresh.state == "assigned" and {a.state for a in fresh.assignments} == {"assigned"}
    assert (await _kinds(db, item.id))[-1] == "leader_instruction"
    msgs = await outbox(db, seen)
    assert {m.person_id for m in msgs} == {w.lead_liaison.id, w.lead_head.id, w.a1_liaison.id, w.a2_liaison.id,
                                           w.a2_head.id, w.office.id}
    assert all("注意夜间施工安全" in m.text and m.buttons is None for m in msgs)
    async with db.session() as s:
        d = await dossier(s, item.id, w.lead_liaison)
        (e,) = [e for e in d.entries if e.kind == "leader_instruction"]
        assert (e.label, e.actor, e.text) == ("领导批示（办理中）", "赵县长", "注意夜间施工安全。")
        detail = await item_detail(s, w.leader, item.id, calendar=CAL, now=clock.now())
        assert [[b.data for b in row] for row in detail.buttons] == [[f"l:dir:{item.id}"]]
        with pytest.raises(NotAllowed):
            await review.leader_direct(s, w.leader2, item.id, instruction="x", now=clock.now())
        with pytest.raises(DomainError, match="批示内容不能为空"):
            await review.leader_direct(s, w.leader, item.id, instruction=" ", now=clock.now())


async def test_no_instruction_on_a_draft_or_at_review(db, clock):
    w = await make_world(db, clock.now())
    draft = await register(db, w, clock.now(), submit=True)
    item_id, _ = await _to_leader_review(db, clock, w)
    async with db.session() as s:
        with pytest.raises(InvalidState, match="当前为「待审批」，不能批示"):
            await review.leader_direct(s, w.leader, draft.id, instruction="x", now=clock.now())
        # At 审阅 the leader's 批示 is the closing one (l:ins); the open-item one is refused.
        with pytest.raises(InvalidState, match="当前为「待领导审阅」，不能批示"):
            await review.leader_direct(s, w.leader, item_id, instruction="x", now=clock.now())


async def test_principal_leader_sees_every_approved_item_paged(db, clock):
    w = await make_world(db, clock.now())
    for n in range(5):
        await register(db, w, clock.now(), approve=True, title=f"财政局的事{n}", lead_unit_id=w.unit("other").id,
                       assisting_unit_ids=[], leader_ids=[w.leader2.id])
    await register(db, w, clock.now(), approve=True)
    draft = await register(db, w, clock.now(), title="还是草稿")
    async with db.session(Actor.system("test"), "test.setup") as s:
        row = await s.get(PersonRole, (w.leader.id, "leader"))
        row.principal = True
    async with db.session() as s:
        me = await s.get(Person, w.leader.id, populate_existing=True)
        assert me.is_principal_leader and not w.leader2.is_principal_leader
        page = await open_items_for(s, me, page=1, page_size=4, calendar=CAL, now=clock.now())
        assert (page.total, page.pages, len(page.items)) == (6, 2, 4)
        page2 = await open_items_for(s, me, page=2, page_size=4, calendar=CAL, now=clock.now())
        titles = {i.title for i in page.items + page2.items}
        assert titles == {"城区主干道破损路面修复"} | {f"财政局的事{n}" for n in range(5)}
        other = await load_item(s, next(i.id for i in page.items + page2.items if i.title.startswith("财政局")))
        own = await load_item(s, next(i.id for i in page.items + page2.items if i.title.startswith("城区")))
        assert can_view(me, other) and can_view(me, own) and not can_view(w.leader2, own)
        assert not can_view(me, await load_item(s, draft.id))
        # Seeing is not acting: another leader's item offers the principal leader no button.
        detail = await item_detail(s, me, other.id, calendar=CAL, now=clock.now())
        assert detail.buttons == []
        with pytest.raises(NotAllowed):
            await review.leader_direct(s, me, other.id, instruction="x", now=clock.now())
        # The ordinary leader's list is unchanged (and its cached statement is not the principal's).
        assert (await open_items_for(s, w.leader2, calendar=CAL, now=clock.now())).total == 5
