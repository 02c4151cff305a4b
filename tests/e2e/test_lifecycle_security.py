"""Who may do what, through the chat: every button and command × every role × own / other unit,
whatever a (forged) payload claims; stale and repeated taps; malformed payloads."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from bot.domain import assignments as asg
from bot.domain import review
from store.models import AuditEntry
from store.workflow import Assignment, Item
from tests.e2e.conftest import DemoCounty

OWN, ASSIST, OTHER = "城关镇", "县交通运输局", "县财政局"
ROLES = ("office", "office_head", "leader", "leader_other", "liaison_own", "liaison_other", "head_own", "head_other")
VIEWERS = {"office", "office_head", "leader", "liaison_own", "head_own"}


def person_for(c: DemoCounty, role: str, own: str):
    return {
        "office": c.people["王敏"], "office_head": c.people["赵建国"],
        "leader": c.people["陈志远"], "leader_other": c.people["孙丽"],
        "liaison_own": c.liaison(own), "liaison_other": c.liaison(OTHER),
        "head_own": c.head(own), "head_other": c.head(OTHER),
    }[role]


async def build_world(c: DemoCounty, demo_item) -> dict[str, int]:
    """Items in every state the buttons need, and the records the buttons name."""
    h = c.h
    w = {
        "pending": await demo_item("待审批事项", assists=(ASSIST,), approve=False),
        "draft": await demo_item("草稿事项", submit=False),
        "fresh": await demo_item("新交办事项", assists=(ASSIST,)),
        "requests": await demo_item("有申请的事项", assists=(ASSIST,)),
        "reported": await demo_item("待审核事项"),
        "review": await demo_item("待审阅事项"),
        "closed": await demo_item("已办结事项"),
    }
    now = h.clock.now()
    async with h.db.session() as s:
        rows = (await s.scalars(select(Assignment))).all()
        a = {(x.item_id, x.unit.name): x.id for x in rows}
        w["fresh_lead"], w["fresh_assist"] = a[(w["fresh"], OWN)], a[(w["fresh"], ASSIST)]
        w["ext"] = (await asg.request_extension(s, c.rows[c.liaison(OWN).name], a[(w["requests"], OWN)],
                                                new_due=date(2026, 4, 30), reason="需要更多时间", now=now)).id
        w["trf"] = (await asg.request_transfer(s, c.rows[c.liaison(ASSIST).name], a[(w["requests"], ASSIST)],
                                               reason="不属于本单位职责", now=now)).id
        lead = c.rows[c.liaison(OWN).name]
        w["report"] = (await asg.submit_report(s, lead, a[(w["reported"], OWN)], text="已办结", now=now)).id
        r = await asg.submit_report(s, lead, a[(w["review"], OWN)], text="已办结", now=now)
        await review.approve_report(s, c.rows["王敏"], r.id, now=now)
        r = await asg.submit_report(s, lead, a[(w["closed"], OWN)], text="已办结", now=now)
        await review.approve_report(s, c.rows["王敏"], r.id, now=now)
        await review.leader_agree(s, c.rows["陈志远"], w["closed"], now=now)
        numbers = dict((await s.execute(select(Item.id, Item.number))).all())
    w["fresh_number"], w["closed_number"] = numbers[w["fresh"]], numbers[w["closed"]]
    await h.settle()
    return w


@dataclass(frozen=True)
class Row:
    code: str
    target: str  # key in the world
    own: str  # the unit whose liaison and head are "own"
    allowed: frozenset[str]
    kind: str  # direct | ask | view


def _row(code: str, target: str, allowed: set[str] | str, kind: str, own: str = OWN) -> Row:
    return Row(code, target, own, frozenset({allowed} if isinstance(allowed, str) else allowed), kind)


BUTTONS = [
    _row("i:ok", "pending", "office_head", "direct"),
    _row("i:no", "pending", "office_head", "ask"),
    _row("i:sub", "draft", "office", "direct"),
    _row("i:arc", "closed", "office", "direct"),
    _row("i:v", "fresh", VIEWERS, "view"),
    _row("a:ack", "fresh_lead", "liaison_own", "direct"),
    _row("a:prg", "fresh_lead", "liaison_own", "ask"),
    _row("a:pln", "fresh_lead", "liaison_own", "ask"),
    _row("a:ext", "fresh_lead", "liaison_own", "ask"),
    _row("a:rpt", "fresh_lead", "liaison_own", "ask"),
    _row("a:trf", "fresh_lead", "liaison_own", "ask"),
    _row("a:dec", "fresh_assist", "liaison_own", "ask", own=ASSIST),
    _row("x:ok", "ext", "office", "direct"),
    _row("x:no", "ext", "office", "ask"),
    _row("t:ok", "trf", "office", "ask", own=ASSIST),
    _row("t:no", "trf", "office", "ask", own=ASSIST),
    _row("r:ok", "report", "office", "ask"),
    _row("r:no", "report", "office", "ask"),
    _row("l:ok", "review", "leader", "direct"),
    _row("l:ins", "review", "leader", "ask"),
]


# What a refused tap answers: the row's own "只有…才能…", or 无权查看 where the button is not the
# person's at all (an assignment's buttons for anyone outside its unit, the office included).
REFUSALS = {
    "i:ok": "只有督查室负责人才能审批立项", "i:no": "只有督查室负责人才能退回立项申请",
    "i:sub": "只有督查室工作人员才能提交立项审批", "i:arc": "只有督查室工作人员才能归档", "i:v": "无权查看",
    "a:ack": f"只有{OWN}的联络员才能签收", "a:prg": f"只有{OWN}的联络员才能反馈进展",
    "a:pln": f"只有{OWN}的联络员才能提交工作方案", "a:ext": f"只有{OWN}的联络员才能申请延期",
    "a:rpt": f"只有{OWN}的联络员才能提交办结报告", "a:trf": f"只有{OWN}的联络员才能申请转办",
    "a:dec": f"只有{ASSIST}的联络员才能报告无法协办",
    "x:ok": "只有督查室工作人员才能审批延期申请", "x:no": "只有督查室工作人员才能审批延期申请",
    "t:ok": "只有督查室工作人员才能审批转办申请", "t:no": "只有督查室工作人员才能审批转办申请",
    "r:ok": "只有督查室工作人员才能审核办结报告", "r:no": "只有督查室工作人员才能审核办结报告",
    "l:ok": "只有本事项的责任领导才能审阅", "l:ins": "只有本事项的责任领导才能审阅",
}


def refusal(row: Row, role: str) -> str:
    if row.code.startswith("a:") and role != "head_own":
        return "无权查看"
    return REFUSALS[row.code]


async def audit_rows(db) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(AuditEntry))


@pytest.mark.parametrize("row", BUTTONS, ids=[r.code for r in BUTTONS])
async def test_button_permission_matrix(row: Row, demo_county, demo_item):
    c, h = demo_county, demo_county.h
    w = await build_world(c, demo_item)
    data = f"{row.code}:{w[row.target]}"
    got, want = {}, {}
    # The refused roles first: an allowed direct action changes the record for whoever comes after.
    for role in sorted(ROLES, key=lambda r: r in row.allowed):
        person = person_for(c, role, row.own)
        audit, seen = await audit_rows(h.db), len(person.inbox)
        await person.forge_tap(data)
        answer, new = person.answers[-1], person.inbox[seen:]
        if answer["show_alert"]:
            got[role] = "denied"
            assert answer["text"] == refusal(row, role), role
            assert new == [] and await audit_rows(h.db) == audit, (role, new)
        elif row.kind == "direct":
            got[role] = "ok" if answer["text"] and await audit_rows(h.db) > audit else f"? {answer}"
        else:
            got[role] = "ok" if answer["text"] is None and len(new) == 1 and await audit_rows(h.db) == audit \
                else f"? {answer} {new}"
            if row.kind == "ask":
                await person.send("/cancel")
                assert "已取消" in person.last.text
        want[role] = "ok" if role in row.allowed else "denied"
    assert got == want


COMMANDS = [
    ("/new", {"office"}, "您没有权限使用 /new"),
    ("/archive {closed_number}", {"office"}, "您没有权限使用 /archive"),
    ("/item {fresh_number}", VIEWERS, "无权查看"),
]


@pytest.mark.parametrize("command,allowed,refusal", COMMANDS, ids=[c[0].split()[0] for c in COMMANDS])
async def test_command_permission_matrix(command, allowed, refusal, demo_county, demo_item):
    c, h = demo_county, demo_county.h
    w = await build_world(c, demo_item)
    text = command.format(**w)
    got, want = {}, {}
    for role in sorted(ROLES, key=lambda r: r in allowed):
        person = person_for(c, role, OWN)
        audit = await audit_rows(h.db)
        await person.send(text)
        if refusal in person.last.text:
            got[role] = "denied"
            assert await audit_rows(h.db) == audit
        else:
            got[role] = "ok"
            await person.send("/cancel")
        want[role] = "ok" if role in allowed else "denied"
    assert got == want


async def test_a_forged_payload_for_another_units_assignment_is_refused_and_logged(demo_county, demo_item, caplog):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", assists=(ASSIST,))
    async with h.db.session() as s:
        theirs = await s.scalar(select(Assignment.id).join(Assignment.unit).where(Assignment.role == "lead"))
    intruder = c.liaison(OTHER)
    caplog.set_level(logging.INFO)
    audit = await audit_rows(h.db)
    for data in (f"a:ack:{theirs}", f"a:prg:{theirs}", f"a:rpt:{theirs}", f"a:dec:{theirs}"):
        await intruder.forge_tap(data)
        assert intruder.answers[-1]["show_alert"] and intruder.last_answer == "无权查看"
    assert intruder.inbox == [] and await audit_rows(h.db) == audit
    refused = [r.getMessage() for r in caplog.records if "event=action_refused" in r.getMessage()]
    assert len(refused) == 4 and all(r.levelno == logging.WARNING for r in caplog.records
                                     if "event=action_refused" in r.getMessage())
    assert f"what=a:ack:{theirs}" in refused[0] and f"user={intruder.id}" in refused[0]
    assert "kind=NotAllowed" in refused[0]
    async with h.db.session() as s:
        assert (await s.get(Assignment, theirs)).acknowledged_at is None


async def test_a_stale_button_says_it_was_handled_and_changes_nothing(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", approve=False)
    head = c.people["赵建国"]
    request = head.last
    await head.tap("同意", request)
    assert request.buttons == ["✅ 已同意（督字〔2026〕1号）· 查看"]
    audit = await audit_rows(h.db)
    await head.forge_tap(request.raw["reply_markup"]["inline_keyboard"][0][0]["callback_data"].replace("i:v", "i:no"),
                         request)
    assert "此操作已处理过" in head.last_answer and head.answers[-1]["show_alert"]
    await head.forge_tap("i:ok:1", request)
    assert "此操作已处理过" in head.last_answer
    assert await audit_rows(h.db) == audit
    async with h.db.session() as s:
        item = await s.get(Item, 1)
    assert (item.state, item.number) == ("assigned", 1)


async def test_a_double_tap_records_once(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复")
    lead = c.liaison(OWN)
    notice = lead.last
    data = notice.button("签收")["callback_data"]
    # Two taps arrive before the bot answers the first.
    await h.emu.press_button(lead.id, lead.id, notice.message_id, data)
    await h.emu.press_button(lead.id, lead.id, notice.message_id, data)
    await h.settle()
    answers = [a["text"] for a in lead.answers]
    assert answers[0] == "已签收，签收时间已记录" and "无需重复签收" in answers[1]
    async with h.db.session() as s:
        acks = await s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "assignment.acknowledge", AuditEntry.entity == "assignments"))
    assert acks == 1
    assert notice.button_rows[0] == ["✅ 已签收 03-10 09:00 · 查看"]


async def test_malformed_and_unknown_payloads_are_refused(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复")
    lead = c.liaison(OWN)
    for data in ("a:ack:abc", "a:ack:0", "a:zzz:1", "a:ack:99999999999", "i:ok:1:2", "x:ok:-1", "a:ack:" + "9" * 60):
        await lead.forge_tap(data)
        assert lead.last_answer == "按钮已失效，请重新打开事项后再操作", data
        assert lead.answers[-1]["show_alert"]
    office = c.people["王敏"]
    for person, data in ((lead, "a:ack:4242"), (lead, "i:v:4242"), (office, "x:ok:4242"), (office, "r:no:4242"),
                         (office, "i:arc:4242")):
        await person.forge_tap(data)
        assert "找不到" in person.last_answer, (data, person.last_answer)
    await lead.forge_tap("ask:ok")  # a dialog button with no dialog open
    assert "该操作已结束" in lead.last_answer
    assert len(lead.inbox) == 1  # only the notice: nothing else was sent
