"""Issue 12, point 5: the leader's steps, through the chat.

批示 while the units handle an item reaches them as an instruction (the item stays open); at 审阅
the leader can send the result back (退回重办) instead of closing it, the lead unit reports again
and a later 批示 closes it; the principal leader (主要领导) sees every item in /items, an ordinary
leader only their own. Refusals: other roles, another leader, forged and stale taps, empty input.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.directory_import import import_people
from store.events import ItemEvent
from store.models import Person
from store.workflow import Assignment, Item, LeaderReview

LEAD, ASSIST = "城关镇", "县交通运输局"


async def _state(h, item_id: int) -> tuple[str, dict[str, tuple[str, int]]]:
    async with h.db.session() as s:
        item = await s.get(Item, item_id)
        rows = (await s.scalars(select(Assignment).where(Assignment.item_id == item_id))).all()
        return item.state, {a.unit.name: (a.state, a.redo_count) for a in rows}


async def _events(h, item_id: int) -> list[str]:
    async with h.db.session() as s:
        return list((await s.scalars(select(ItemEvent.kind).where(ItemEvent.item_id == item_id)
                                     .order_by(ItemEvent.id))).all())


async def _report(liaison, page, text: str) -> None:
    await liaison.tap("提交办结报告", page)
    await liaison.send(text)
    await liaison.tap("完成")
    assert "办结报告已提交" in liaison.last.text


async def test_instruction_midway_then_return_then_resubmit_and_close(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    office, leader = c.people["王敏"], c.people["陈志远"]
    lead, lead_head, assist = c.liaison(LEAD), c.head(LEAD), c.liaison(ASSIST)
    item_id = await demo_item(assists=(ASSIST,))
    await lead.send("/item 1")
    await lead.tap("签收", lead.last)

    # ---- 批示 while the units handle it: the responsible leader's /item offers it.
    h.clock.advance(hours=1)
    await leader.send("/item 1")
    assert leader.last.buttons == ["批示"]
    await leader.tap("批示", leader.last)
    assert "请输入批示内容" in leader.last.text and "事项继续办理" in leader.last.text
    await leader.send("\u3000\u3000")  # bad input: a blank instruction is refused, the prompt stays
    assert "批示内容不能为空" in leader.last.text
    await leader.send("请于本周内完成东段施工，注意夜间交通疏导。")
    assert "督字〔2026〕1号：批示已送达承办单位，事项继续办理" in leader.last.text
    for person in (lead, lead_head, assist):
        note = person.newest("领导批示")
        assert "陈志远批示：请于本周内完成东段施工，注意夜间交通疏导。" in note.text and "督字〔2026〕1号" in note.text
    assert await _state(h, item_id) == ("in_progress", {LEAD: ("in_progress", 0), ASSIST: ("assigned", 0)})
    assert (await _events(h, item_id))[-1] == "leader_instruction"
    await lead.send("/item 1")  # the instruction is in the item's story
    assert "领导批示（办理中）｜陈志远" in lead.last.text and "注意夜间交通疏导" in lead.last.text

    # ---- The lead unit reports, the office approves, the leader is asked to review.
    h.clock.advance(days=1)
    await _report(lead, lead.last, "东段路面已修复完毕。")
    await office.send("/item 1")
    await office.tap(f"审核通过（{LEAD}）", office.last)
    await office.tap("跳过")
    request = leader.newest("办理结果请审阅")
    assert request.buttons == ["同意", "批示", "退回重办"] and "点“退回重办”并写明理由" in request.text
    await leader.send("/item 督字〔2026〕1号")
    assert leader.last.buttons == ["同意", "批示", "退回重办"]

    # ---- 退回重办 from the notice: it goes back to the lead unit with the leader's reason.
    h.clock.advance(hours=2)
    page = request
    await leader.tap("退回重办", page)
    assert "请输入退回理由" in leader.last.text
    await leader.send("退" * 2001)  # bad input again: too long
    assert "退回理由太长：最多2000字，现有2001字" in leader.last.text
    await leader.send("西段尚未修复，请一并完成后再报。")
    assert "已退回重办，理由已告知承办单位，事项回到办理中" in leader.last.text
    assert page.buttons == ["↩️ 已退回重办 · 查看"]
    back = lead.newest("领导退回重办")
    assert "陈志远审阅后退回重办，理由：西段尚未修复" in back.text and f"请{LEAD}按领导意见继续办理" in back.text
    assert back.buttons == ["反馈进展", "提交办结报告"]
    assert "西段尚未修复" in lead_head.newest("领导退回重办").text and lead_head.newest("领导退回重办").buttons == []
    assert "西段尚未修复" in assist.newest("领导退回重办").text
    assert "西段尚未修复" in office.newest("领导退回重办").text
    assert await _state(h, item_id) == ("in_progress", {LEAD: ("in_progress", 1), ASSIST: ("assigned", 0)})
    async with h.db.session() as s:
        decisions = (await s.scalars(select(LeaderReview.decision).order_by(LeaderReview.id))).all()
        assert list(decisions) == ["direct", "return"]
        assert (await s.get(Item, item_id)).closed_at is None

    # A stale tap on the old request's 批示 is refused: the item is no longer waiting for review.
    await leader.forge_tap(f"l:ins:{item_id}", request)
    assert "当前为「办理中」，不能批示" in leader.last_answer
    assert (await _state(h, item_id))[0] == "in_progress"

    # ---- The lead unit resubmits (from the notice's button), the office approves, 批示 closes it.
    h.clock.advance(days=1)
    await _report(lead, back, "东西两段路面均已修复。")
    await office.send("/item 1")
    await office.tap(f"审核通过（{LEAD}）", office.last)
    await office.tap("跳过")
    request2 = leader.newest("办理结果请审阅")
    assert "东西两段路面均已修复" in request2.text and request2.message_id != request.message_id
    await leader.tap("批示", request2)
    await leader.send("同意，请做好日常养护。")
    assert "批示已记录，事项办结" in leader.last.text
    assert "同意，请做好日常养护" in lead.newest("事项已办结").text
    state, units = await _state(h, item_id)
    assert state == "closed" and units[LEAD] == ("done", 1)
    kinds = await _events(h, item_id)
    assert kinds.index("leader_instruction") < kinds.index("leader_return") < kinds.index("leader_review")
    await office.send("/item 1")
    text = office.last.text
    assert "领导退回重办｜陈志远" in text and "领导批示｜陈志远" in text


async def test_leader_steps_are_refused_to_others_and_to_forged_taps(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    leader, other_leader, office = c.people["陈志远"], c.people["刘海涛"], c.people["王敏"]
    lead = c.liaison(LEAD)
    item_id = await demo_item()

    # Nobody but a responsible leader gets 批示 on the item's page.
    for person in (office, lead, c.head(LEAD)):
        await person.send("/item 1")
        assert "批示" not in person.last.buttons and "退回重办" not in person.last.buttons

    # Forged taps: another leader, office staff, the lead liaison — each refused, nothing written.
    # (The same answer as 同意/批示 at 审阅 give anyone who is not the item's responsible leader.)
    for person in (other_leader, office, lead):
        await person.send("/start")
        for code in ("l:dir", "l:ret"):
            await person.forge_tap(f"{code}:{item_id}", person.last)
            assert person.last_answer == "只有本事项的责任领导才能批示或退回", (person.name, code)
    # 退回重办 before there is anything to review: refused for the leader too.
    await leader.send("/start")
    await leader.forge_tap(f"l:ret:{item_id}", leader.last)
    assert leader.last_answer == "督字〔2026〕1号当前为「已交办」，不能退回重办。"
    # An item that does not exist.
    await leader.forge_tap("l:dir:99999", leader.last)
    assert "找不到该督查事项" in leader.last_answer
    async with h.db.session() as s:
        assert (await s.scalars(select(LeaderReview))).all() == []
    assert (await _state(h, item_id))[0] == "assigned"


async def test_principal_leader_sees_every_item_an_ordinary_leader_only_theirs(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    chen, liu, sun = c.people["陈志远"], c.people["刘海涛"], c.people["孙丽"]
    await demo_item("城区主干道破损路面修复", leaders=("陈志远",))
    await demo_item("农村饮水安全巩固提升", leaders=("刘海涛",))
    await demo_item("老旧小区改造（草稿）", leaders=("刘海涛",), submit=False)

    # The directory names 孙丽 主要领导 (the office's import; roles and the flag are only added).
    async with h.db.session() as s:
        result = await import_people(s, [_row(2, 姓名="孙丽", 角色="主要领导", 职务="县长")], h.clock.now())
        assert result.updated == 1
        sun_row = await s.scalar(select(Person).where(Person.name == "孙丽"))
        assert sun_row.is_principal_leader and sun_row.roles == frozenset({"leader"})

    await sun.send("/items")
    assert "城区主干道破损路面修复" in sun.last.text and "农村饮水安全巩固提升" in sun.last.text
    assert "老旧小区改造" not in sun.last.text  # a draft is the office's until approved
    await sun.send("/item 2")  # she may open another leader's item, but it is not hers to act on
    assert "农村饮水安全巩固提升" in sun.last.text and "批示" not in sun.last.buttons

    await chen.send("/items")  # an ordinary leader: only their own
    assert "城区主干道破损路面修复" in chen.last.text and "农村饮水安全巩固提升" not in chen.last.text
    await chen.send("/item 2")
    assert "无权查看" in chen.last.text
    await liu.send("/items")
    assert "农村饮水安全巩固提升" in liu.last.text and "城区主干道破损路面修复" not in liu.last.text


def _row(number: int, **cells: str):
    from bot.domain.directory_import import Row

    return Row(number, cells)
