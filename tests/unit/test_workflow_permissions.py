"""Who may do what: every action × every role, table-driven, each attempt rolled back."""

from __future__ import annotations

from datetime import date

import pytest
from test_workflow_support import CAL, make_world, register

from bot.domain import assignments as asg
from bot.domain import items as items_svc
from bot.domain import review
from bot.domain.dossier import dossier
from bot.domain.errors import NotAllowed
from bot.domain.views import item_detail
from bot.domain.workflow import DeadlineSpec

ROLES = ("office", "office_head", "leader", "liaison_own", "liaison_other", "unit_head", "nobody")


class _Rollback(Exception):
    pass


async def attempt(db, fn) -> str:
    """'ok' or 'denied'; the transaction is always rolled back, so every attempt starts alike."""
    try:
        async with db.session() as s:
            await fn(s)
            raise _Rollback
    except _Rollback:
        return "ok"
    except NotAllowed:
        return "denied"


async def _stages(db, w, now):
    """Items in every state the actions need."""
    st = {}
    st["draft"] = await register(db, w, now)
    st["pending"] = await register(db, w, now, submit=True)
    st["fresh"] = await register(db, w, now, approve=True)
    st["requests"] = c = await register(db, w, now, approve=True)
    lead_c = _a(c, w, "lead")
    async with db.session() as s:
        st["ext"] = await asg.request_extension(s, w.lead_liaison, lead_c, new_due=date(2026, 4, 3), reason="需要更多时间",
                                                now=now)
        st["trf"] = await asg.request_transfer(s, w.a1_liaison, _a(c, w, "a1"), reason="不属于本单位职责", now=now)
    st["reported"] = d = await register(db, w, now, approve=True)
    async with db.session() as s:
        st["report"] = await asg.submit_report(s, w.lead_liaison, _a(d, w, "lead"), text="已办结", now=now)
    st["review"] = e = await register(db, w, now, approve=True)
    async with db.session() as s:
        r = await asg.submit_report(s, w.lead_liaison, _a(e, w, "lead"), text="已办结", now=now)
        await review.approve_report(s, w.office, r.id, now=now)
    st["closed"] = f = await register(db, w, now, approve=True)
    async with db.session() as s:
        r = await asg.submit_report(s, w.lead_liaison, _a(f, w, "lead"), text="已办结", now=now)
        await review.approve_report(s, w.office, r.id, now=now)
        await review.leader_agree(s, w.leader, f.id, now=now)
    return st


def _a(item, w, unit_key):
    return next(a.id for a in item.assignments if a.unit_id == w.unit(unit_key).id)


OFFICE, HEAD, LEADER, OWN, HEAD_OWN = {"office"}, {"office_head"}, {"leader"}, {"liaison_own"}, None
VIEWERS = {"office", "office_head", "leader", "liaison_own", "unit_head"}

# name, the unit whose liaison/head is "own", who may, the call
MATRIX = [
    ("register", "lead", OFFICE, lambda s, p, w, st, now: items_svc.register_item(
        s, p, title="新事项", requirements="要求", source="other", importance="normal", lead_unit_id=w.unit("lead").id,
        deadline=DeadlineSpec.working_days(5), leader_ids=[w.leader.id], calendar=CAL, now=now)),
    ("update_draft", "lead", OFFICE, lambda s, p, w, st, now: items_svc.update_draft(
        s, p, st["draft"].id, title="改名", calendar=CAL, now=now)),
    ("submit", "lead", OFFICE, lambda s, p, w, st, now: items_svc.submit_item(s, p, st["draft"].id, now=now)),
    ("approve", "lead", HEAD, lambda s, p, w, st, now: items_svc.approve_item(
        s, p, st["pending"].id, calendar=CAL, now=now)),
    ("reject", "lead", HEAD, lambda s, p, w, st, now: items_svc.reject_item(
        s, p, st["pending"].id, reason="再研究", now=now)),
    ("acknowledge", "lead", OWN, lambda s, p, w, st, now: asg.acknowledge(s, p, _a(st["fresh"], w, "lead"), now=now)),
    ("progress", "lead", OWN, lambda s, p, w, st, now: asg.add_progress(
        s, p, _a(st["fresh"], w, "lead"), text="进展", now=now)),
    ("plan", "lead", OWN, lambda s, p, w, st, now: asg.submit_plan(
        s, p, _a(st["fresh"], w, "lead"), text="方案", now=now)),
    ("report", "lead", OWN, lambda s, p, w, st, now: asg.submit_report(
        s, p, _a(st["fresh"], w, "lead"), text="办结", now=now)),
    ("request_extension", "lead", OWN, lambda s, p, w, st, now: asg.request_extension(
        s, p, _a(st["fresh"], w, "lead"), new_due=date(2026, 4, 30), reason="理由", now=now)),
    ("request_transfer", "lead", OWN, lambda s, p, w, st, now: asg.request_transfer(
        s, p, _a(st["fresh"], w, "lead"), reason="理由", now=now)),
    ("decline_assist", "a2", OWN, lambda s, p, w, st, now: asg.decline_assist(
        s, p, _a(st["fresh"], w, "a2"), reason="理由", now=now)),
    ("approve_extension", "lead", OFFICE, lambda s, p, w, st, now: asg.approve_extension(s, p, st["ext"].id, now=now)),
    ("reject_extension", "lead", OFFICE, lambda s, p, w, st, now: asg.reject_extension(
        s, p, st["ext"].id, reason="不行", now=now)),
    ("approve_transfer", "a1", OFFICE, lambda s, p, w, st, now: asg.approve_transfer(
        s, p, st["trf"].id, to_unit_id=w.unit("water").id, calendar=CAL, now=now)),
    ("reject_transfer", "a1", OFFICE, lambda s, p, w, st, now: asg.reject_transfer(
        s, p, st["trf"].id, reason="不行", now=now)),
    ("approve_report", "lead", OFFICE, lambda s, p, w, st, now: review.approve_report(s, p, st["report"].id, now=now)),
    ("return_report", "lead", OFFICE, lambda s, p, w, st, now: review.return_report(
        s, p, st["report"].id, reason="重办", now=now)),
    ("leader_agree", "lead", LEADER, lambda s, p, w, st, now: review.leader_agree(s, p, st["review"].id, now=now)),
    ("leader_instruct", "lead", LEADER, lambda s, p, w, st, now: review.leader_instruct(
        s, p, st["review"].id, instruction="抓紧", now=now)),
    ("archive", "lead", OFFICE, lambda s, p, w, st, now: items_svc.archive_item(s, p, st["closed"].id, now=now)),
    ("item_detail", "lead", VIEWERS, lambda s, p, w, st, now: item_detail(
        s, p, st["fresh"].id, calendar=CAL, now=now)),
    ("dossier", "lead", VIEWERS, lambda s, p, w, st, now: dossier(s, st["fresh"].id, p)),
]


def _person(w, role: str, own: str):
    return {
        "office": w.office, "office_head": w.head, "leader": w.leader,
        "liaison_own": {"lead": w.lead_liaison, "a1": w.a1_liaison, "a2": w.a2_liaison}[own],
        "liaison_other": w.other_liaison,
        "unit_head": {"lead": w.lead_head, "a1": w.nobody, "a2": w.a2_head}[own],
        "nobody": w.nobody,
    }[role]


async def test_permission_matrix(db, clock):
    w = await make_world(db, clock.now())
    st = await _stages(db, w, clock.now())
    got, want = {}, {}
    for name, own, allowed, call in MATRIX:
        for role in ROLES:
            if role == "unit_head" and own == "a1":
                continue  # no head in that unit; covered by the other rows
            person = _person(w, role, own)
            got[(name, role)] = await attempt(db, lambda s, call=call, person=person: call(s, person, w, st, clock.now()))
            want[(name, role)] = "ok" if role in allowed else "denied"
    wrong = {k: v for k, v in got.items() if v != want[k]}
    assert not wrong, wrong


async def test_a_leader_not_responsible_for_the_item_may_not_review_or_see_it(db, clock):
    w = await make_world(db, clock.now())
    st = await _stages(db, w, clock.now())
    for call in (
        lambda s: review.leader_agree(s, w.leader2, st["review"].id, now=clock.now()),
        lambda s: review.leader_instruct(s, w.leader2, st["review"].id, instruction="抓紧", now=clock.now()),
        lambda s: item_detail(s, w.leader2, st["review"].id, calendar=CAL, now=clock.now()),
    ):
        assert await attempt(db, call) == "denied"


async def test_a_deactivated_person_may_do_nothing(db, clock):
    w = await make_world(db, clock.now())
    st = await _stages(db, w, clock.now())
    async with db.session() as s:
        (await s.get(type(w.office), w.office.id)).active = False
    with pytest.raises(NotAllowed, match="停用"):
        async with db.session() as s:
            await items_svc.submit_item(s, w.office, st["draft"].id, now=clock.now())


async def test_refusals_are_in_chinese_and_name_the_reason(db, clock):
    w = await make_world(db, clock.now())
    st = await _stages(db, w, clock.now())
    with pytest.raises(NotAllowed) as e:
        async with db.session() as s:
            await asg.acknowledge(s, w.other_liaison, _a(st["fresh"], w, "lead"), now=clock.now())
    assert e.value.message == "无权查看"  # an outsider learns nothing of the item, not even its unit
    with pytest.raises(NotAllowed) as e:
        async with db.session() as s:
            await asg.acknowledge(s, w.lead_head, _a(st["fresh"], w, "lead"), now=clock.now())
    assert e.value.message == "只有城关镇的联络员才能签收"
    with pytest.raises(NotAllowed) as e:
        async with db.session() as s:
            await items_svc.approve_item(s, w.office, st["pending"].id, calendar=CAL, now=clock.now())
    assert e.value.message == "只有督查室负责人才能审批立项"
