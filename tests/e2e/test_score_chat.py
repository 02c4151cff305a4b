"""/score through the chat: who sees what, manual events and reversals, and the office head's approval."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.domain.records import issue_bulletin
from bot.domain.score import record_event
from store.models import OutboxMessage, Unit
from store.score import ScoreEvent, ScoreYear

OFFICE = "固镇县人民政府督查室"


async def events(db):
    async with db.session() as s:
        return list((await s.scalars(select(ScoreEvent).order_by(ScoreEvent.id))).all())


async def unit_id(db, name):
    async with db.session() as s:
        return await s.scalar(select(Unit.id).where(Unit.name == name))


async def seed_year(c, demo_item):
    """城关镇 criticised (−5) and one late weekly feedback (−2); 县交通运输局 commended (+5);
    县水利局 handles an item without events; every other unit handled nothing (→ the average)."""
    first = await demo_item(assists=("县交通运输局",))
    await demo_item("农田水利设施修复", lead="县水利局")
    cg, jt = await unit_id(c.h.db, "城关镇"), await unit_id(c.h.db, "县交通运输局")
    now = c.h.clock.now()
    async with c.h.db.session() as s:
        await issue_bulletin(s, c.rows["王敏"], item_id=first, unit_id=cg, kind="criticism",
                             rule_code="criticism.decision", text="进度滞后。", office_name=OFFICE, now=now)
        await issue_bulletin(s, c.rows["王敏"], item_id=first, unit_id=jt, kind="commendation", rule_code=None,
                             text="协办有力。", office_name=OFFICE, now=now)
        await record_event(s, year=2026, unit_id=cg, rule_code="late_feedback", reason="第11周未反馈", now=now,
                           item_id=first, automatic=True, dedupe_key="feedback:test:1")
    await c.h.settle()
    return first


async def test_the_office_sees_the_ranked_table_and_a_units_events(demo_county, demo_item):
    c = demo_county
    await seed_year(c, demo_item)
    wang = c.people["王敏"]
    await wang.send("/score")
    table = wang.last
    lines = table.text.splitlines()
    assert "2026年度政务督查考核" in lines[0] and "尚未审定" in table.text
    assert "1. 县交通运输局　105分" in lines
    assert "2. 县水利局　100分" in lines
    # 18 units handled nothing: the average of the three that did, (105 + 100 + 93) / 3 = 99.33
    assert "3. 仲兴镇　99.33分（未承办事项，按平均分）" in lines
    assert lines.count("20. 城关镇　93分") == 1 and "承办单位平均分：99.33" in table.text
    assert len(table.buttons) == 20 and "审定2026年度考核结果" not in table.buttons

    await wang.tap("城关镇", table)
    detail = wang.last
    assert "城关镇 2026年度政务督查考核" in detail.text and "得分：93分，第20名（共20个单位）" in detail.text
    assert "−5 重要工作部署落实不到位被通报批评（第八条（一））" in detail.text
    assert "−2 未按要求及时反馈办理结果（第八条（七））" in detail.text and "第11周未反馈" in detail.text

    for leader in ("陈志远", "赵建国"):
        await c.people[leader].send("/score 2026")
        assert "1. 县交通运输局　105分" in c.people[leader].last.text


async def test_a_unit_sees_only_its_own(demo_county, demo_item):
    c = demo_county
    await seed_year(c, demo_item)
    liaison, head = c.liaison("城关镇"), c.head("城关镇")
    for person in (liaison, head):
        await person.send("/score")
        m = person.last
        assert "城关镇 2026年度政务督查考核" in m.text and "93分，第20名（共20个单位）" in m.text
        assert "县交通运输局" not in m.text and "仲兴镇" not in m.text and m.buttons == []
    jt = await unit_id(c.h.db, "县交通运输局")
    await liaison.forge_tap(f"sc:u:2026:{jt}")
    assert "您只能查看本单位的考核情况" in liaison.last_answer
    await liaison.send("/score 2026 县交通运输局")
    assert liaison.last.text == "⚠️ 您只能查看本单位的考核情况"
    await liaison.send("/score add")
    assert "没有权限" in liaison.last.text
    await c.people["陈志远"].send("/score add")
    assert "没有权限" in c.people["陈志远"].last.text


async def test_manual_events_reversals_and_bad_input(demo_county, demo_item):
    c = demo_county
    first = await seed_year(c, demo_item)
    wang = c.people["王敏"]
    before = await events(c.h.db)

    # Bad input: nothing changes.
    for text, expected in {
        "/score add 城关镇 late_feedback 1": "须写明单位、规则、事项编号和理由",
        "/score add 城关镇 minus_seven 1 随便扣": "不在本县配置的规则内",
        "/score add 仲兴镇 fraud 1 虚报": "仲兴镇未承办督字〔2026〕1号",
        "/score add 城关镇 fraud 9 虚报": "没有找到督字〔2026〕9号",
        "/score add 不存在的单位 fraud 1 虚报": "找不到单位「不存在的单位」",
        "/score undo 999 更正": "找不到第999号考核记录",
        "/score undo 1": "用法：/score undo 记录号 理由",
    }.items():
        await wang.send(text)
        assert expected in wang.last.text, (text, wang.last.text)
    assert [e.id for e in await events(c.h.db)] == [e.id for e in before]

    # The dialog: unit → rule → item → reason → 保存.
    await wang.send("/score add")
    await wang.send("交通")
    await wang.tap("县交通运输局")
    await wang.tap("第八条（九） 0分 瞒报、谎报、弄虚作假（取消评先评优资格）")
    await wang.send("5")
    assert "没有找到督字〔2026〕5号" in wang.last.text
    await wang.send("1")
    assert "请输入考核理由" in wang.last.text
    await wang.send("虚报协办工作已完成，经实地核查不实。")
    assert "单位：县交通运输局" in wang.last.text and wang.last.buttons == ["保存", "取消"]
    await wang.tap("保存")
    fraud = (await events(c.h.db))[-1]
    assert f"已记录考核 #{fraud.id}" in wang.last.text
    assert (fraud.rule, fraud.points, fraud.disqualifies, fraud.item_id, fraud.recorded_by_id) == (
        "fraud", 0, True, first, c.rows["王敏"].id)
    await wang.send("/score")
    assert "1. 县交通运输局　105分　⛔取消评先评优资格" in wang.last.text.splitlines()

    # One line, then its reversal: the unit is back where it was; the events stay.
    await wang.send("/score add 城关镇 criticism.other 1 整改不到位")
    added = (await events(c.h.db))[-1]
    await wang.send(f"/score undo {added.id} 经核实已整改到位")
    reversal = (await events(c.h.db))[-1]
    assert (reversal.reverses_id, reversal.points) == (added.id, 5) and f"已撤销考核记录 #{added.id}" in wang.last.text
    await wang.send(f"/score undo {added.id} 再撤一次")
    assert "已撤销过" in wang.last.text
    await wang.send(f"/score undo {fraud.id} 核查有误")
    await wang.send("/score 2026 城关镇")
    assert "得分：93分" in wang.last.text and f"已被#{reversal.id}撤销" in wang.last.text
    await wang.send("/score")
    assert "⛔" not in wang.last.text


async def test_the_office_head_approves_the_year_and_it_is_frozen(demo_county, demo_item):
    c = demo_county
    await seed_year(c, demo_item)
    head, wang = c.people["赵建国"], c.people["王敏"]
    await head.send("/score")
    assert "审定2026年度考核结果" not in head.last.buttons  # the year is not over

    c.h.clock.set(datetime(2027, 1, 5, 1, 0, tzinfo=UTC))
    await head.send("/score 2026")
    await head.tap("审定2026年度考核结果")
    assert "不能再增加、撤销任何考核记录" in head.last.text and head.last.buttons == ["确认审定", "取消"]
    await wang.forge_tap("y:ok:2026")
    assert "只有督查室负责人" in wang.last_answer
    await head.tap("确认审定")
    assert head.last_answer == "已审定"
    assert "已审定（赵建国，2027-01-05）" in head.last.text and "1. 县交通运输局　105分" in head.last.text
    async with c.h.db.session() as s:
        assert (await s.get(ScoreYear, 2026)).approved_by_id == c.rows["赵建国"].id
        told = (await s.scalars(select(OutboxMessage.person_id).where(
            OutboxMessage.text.contains("2026年度政务督查考核结果已审定")))).all()
    assert set(told) == {c.rows["王敏"].id, c.rows["李强"].id}
    assert "2026年度政务督查考核结果已审定" in wang.last.text

    before = await events(c.h.db)
    await wang.send("/score add 2026 城关镇 criticism.other 1 补记")
    assert "2026年度考核结果已审定，不能再增加记录" in wang.last.text
    await wang.send(f"/score undo {before[0].id} 更正")
    assert "2026年度考核结果已审定" in wang.last.text
    await head.forge_tap("y:ok:2026")
    assert "已审定，无需重复" in head.last_answer
    assert [e.id for e in await events(c.h.db)] == [e.id for e in before]
    await wang.send("/score 2026")
    assert "已审定（赵建国，2027-01-05）" in wang.last.text
