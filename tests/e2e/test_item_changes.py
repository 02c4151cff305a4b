"""Mistakes that can be fixed (issue 12): a returned draft edited and resubmitted, a submission
withdrawn, a draft deleted; an approved item's deadline, requirements and units changed, the item
suspended, resumed and cancelled — each proposed by the office, decided by the office head,
announced to the units' liaisons and heads and the leader, and told in the dossier."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.domain.dossier import dossier
from store.changes import ItemChange
from store.workflow import Assignment, Item

OWN, ASSIST = "城关镇", "县交通运输局"


async def _item(h, item_id: int = 1) -> Item:
    async with h.db.session() as s:
        return await s.get(Item, item_id)


async def _shares(h) -> dict[str, tuple[str, date | None]]:
    async with h.db.session() as s:
        return {a.unit.name: (a.state, a.due_date) for a in (await s.scalars(select(Assignment))).all()}


async def test_a_returned_draft_is_edited_in_chat_and_resubmitted(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", submit=True, approve=False)
    head, office = c.people["赵建国"], c.people["王敏"]
    await head.tap("退回", head.newest("立项审批"))
    await head.send("办理要求不具体，请写明修复标准。")
    returned = office.newest("立项申请被退回")
    assert "/item 登记号1" in returned.text and "提交审批" in returned.text

    await office.send("/item 登记号1")
    card = office.last
    assert "登记号1" in card.text and "待提交" in card.text
    assert ["修改名称", "修改要求", "修改时限"] in card.button_rows and ["删除草稿"] in card.button_rows
    await office.tap("修改要求", card)
    assert "修改草稿：请发送新的办理要求" in office.last.text
    await office.send("按城市道路养护标准修复全部破损路面，5月底前报送验收材料。")
    assert "登记号1：办理要求已修改" in office.last.text
    await office.tap("修改名称", card)
    await office.send("。")
    assert "事项名称要有文字" in office.last.text  # bad input: asked again
    await office.send("城区主干道破损路面修复（二期）")
    assert "事项名称已改为「城区主干道破损路面修复（二期）」" in office.last.text
    await office.tap("修改时限", card)
    await office.send("下个月")
    assert "日期「下个月」格式不对" in office.last.text and "请重新输入" in office.last.text
    await office.send("12")
    assert "办结时限已修改" in office.last.text
    await office.tap("增加协办单位", card)
    await office.send("交通")
    await office.tap(ASSIST)
    assert "已增加协办单位" in office.last.text
    item = await _item(h)
    assert (item.title, item.deadline_days, item.state) == ("城区主干道破损路面修复（二期）", 12, "draft")
    assert item.requirements.startswith("按城市道路养护标准")

    await office.send("/item 登记号1")
    await office.tap("提交审批")
    request = head.newest("立项审批")
    assert "城区主干道破损路面修复（二期）" in request.text and "批准后12个工作日" in request.text
    assert "县交通运输局" in request.text
    await head.tap("同意", request)
    assert (await _item(h)).state == "assigned"
    assert "城区主干道破损路面修复（二期）" in c.liaison(ASSIST).newest("督办通知单").text


async def test_a_submission_is_withdrawn_by_its_submitter_and_a_draft_deleted(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", submit=True, approve=False)
    head, office, other = c.people["赵建国"], c.people["王敏"], c.people["李强"]
    request = head.newest("立项审批")

    await other.send("/item 登记号1")
    await other.tap("撤回")
    assert "只有提交审批的人才能撤回" in other.last_answer
    await office.send("/item 登记号1")
    await office.tap("撤回")
    assert "已撤回" in office.last_answer
    assert (await _item(h)).state == "draft"
    assert "王敏已撤回该立项申请" in head.newest("立项申请已撤回").text
    await head.tap("同意", request)  # the old approval button is stale now
    assert "立项申请已退回或撤回，此操作已失效" in head.last_answer
    assert (await _item(h)).number is None

    # A liaison cannot even see a draft; office staff delete it, with a reason.
    await c.liaison(OWN).send("/item 登记号1")
    assert "无权查看" in c.liaison(OWN).last.text
    await other.send("/item 登记号1")
    await other.tap("删除草稿")
    await other.send("与督字〔2026〕2号重复。")
    assert "登记号1已删除" in other.last.text
    item = await _item(h)
    assert item.state == "deleted"
    await office.send("/items")
    assert "道路修复" not in office.last.text
    await office.send("/item 登记号1")
    assert "已删除" in office.last.text and "删除草稿" in office.last.text  # its timeline tells it
    assert "与督字〔2026〕2号重复" in office.last.text
    await office.send("/item 登记号99")
    assert "没有找到登记号99的督查事项" in office.last.text


async def test_the_deadline_of_an_approved_item_changes_with_the_heads_consent(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    item_id = await demo_item("道路修复", assists=(ASSIST,), days=10)
    office, head = c.people["王敏"], c.people["赵建国"]
    old_due = (await _item(h)).due_date

    # A liaison is refused at the tap; the office head decides but does not propose.
    lead = c.liaison(OWN)
    await lead.forge_tap(f"i:cd:{item_id}")
    assert "只有督查室工作人员才能" in lead.last_answer
    await office.send("/item 1")
    await office.tap("变更时限")
    await office.send("2026-13-01")
    assert "日期「2026-13-01」不存在" in office.last.text and "请重新输入" in office.last.text
    await office.send("2026-05-29")
    assert "新的办结日期：2026-05-29\n请说明变更理由" in office.last.text
    await office.send("县政府常务会议调整了工作安排。")
    assert "变更办结时限（至 2026-05-29）申请已提交" in office.last.text
    assert (await _item(h)).due_date == old_due  # nothing changes before the head agrees

    ask = head.newest("事项变更审批")
    assert "改为 <b>2026-05-29</b>" in ask.html and "县政府常务会议调整了工作安排" in ask.text
    assert ask.buttons == ["同意变更", "不同意变更"]
    await head.tap("同意变更", ask)
    assert "变更已生效" in head.last_answer and ask.buttons == ["✅ 已同意变更 · 查看"]
    await head.tap("✅ 已同意变更 · 查看", ask)
    await h.settle()

    item = await _item(h)
    assert item.due_date == date(2026, 5, 29)
    shares = await _shares(h)
    assert shares[OWN][1] == shares[ASSIST][1] == date(2026, 5, 29)
    # The units' liaisons (with the notice's buttons) and heads, the leader and the proposer are told.
    told = lead.newest("事项变更：变更办结时限")
    assert "本单位现行办结时限：<b>2026-05-29</b>" in told.html and "签收" in told.buttons
    assert "2026-05-29" in c.head(OWN).newest("事项变更：变更办结时限").text
    assert "2026-05-29" in c.head(ASSIST).newest("事项变更：变更办结时限").text
    assert "2026-05-29" in c.people["陈志远"].newest("事项变更：变更办结时限").text
    assert "事项变更已同意" in office.newest("事项变更已同意").text
    # /item, the dossier (卷宗) and the new notice agree.
    await office.send("/item 1")
    assert "至 2026-05-29" in office.last.text and "同意变更办结时限" in office.last.text
    async with h.db.session() as s:
        d = await dossier(s, 1)
        assert d.due == "2026-05-29"
        labels = [e.label for e in d.entries]
        assert "申请变更办结时限" in labels and "同意变更办结时限" in labels
        change = await s.scalar(select(ItemChange))
        assert (change.status, change.before["due"]) == ("approved", old_due.isoformat())

    # A second tap on the used button is stale.
    await head.forge_tap(f"g:ok:{change.id}", ask)
    assert "已同意" in head.last_answer


async def test_a_change_is_refused_with_a_reason_and_the_wrong_roles_are_refused(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复")
    office, head = c.people["王敏"], c.people["赵建国"]
    await office.send("/item 1")
    await office.tap("变更要求")
    await office.send("全部路段修复。")
    assert "理由：" in office.last.text  # no reason line: asked again
    await office.send("按新标准修复全部路段并报送验收材料。\n理由：县政府常务会议提高了标准")
    assert "变更办理要求申请已提交" in office.last.text
    ask = head.newest("事项变更审批")
    assert "按新标准修复全部路段" in ask.text and "提高了标准" in ask.text

    async with h.db.session() as s:
        change_id = await s.scalar(select(ItemChange.id))
    await office.forge_tap(f"g:ok:{change_id}")
    assert "只有督查室负责人才能" in office.last_answer
    await c.liaison(OWN).forge_tap(f"g:no:{change_id}")
    assert "只有督查室负责人才能" in c.liaison(OWN).last_answer
    await head.tap("不同意变更", ask)
    await head.send("原要求已经明确，不需变更。")
    assert "未同意该变更" in head.last.text
    told = office.newest("事项变更未同意")
    assert "原要求已经明确" in told.text
    assert (await _item(h)).requirements == "道路修复：按要求办理并报送情况。"


async def test_a_unit_is_added_and_another_removed(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", assists=(ASSIST,))
    office, head = c.people["王敏"], c.people["赵建国"]
    await office.send("/item 1")
    card = office.last
    await office.tap("增加单位", card)
    await office.send("水利")
    await office.tap("县水利局")
    assert "增加单位：县水利局（协办）\n请说明变更理由" in office.last.text
    await office.send("涉及沿河堤防路段。")
    assert "增加承办单位申请已提交" in office.last.text
    await head.tap("同意变更", head.newest("事项变更审批"))
    await h.settle()
    water = c.liaison("县水利局")
    notice = water.newest("督办通知单")
    assert notice.button_rows == [["签收"], ["反馈进展", "申请延期"], ["提交办结报告", "无法协办"]]
    assert "县水利局" in c.liaison(OWN).newest("事项变更：增加承办单位").text

    await office.tap("撤出单位", card)
    await office.send("城关")
    await office.tap(OWN)
    assert "城关镇是主办单位，不能撤出" in office.last.text  # asked again
    await office.send("交通")
    await office.tap(ASSIST)
    await office.send("该路段不属交通部门管养。")
    await head.tap("同意变更", head.newest("撤出承办单位"))
    await h.settle()
    shares = await _shares(h)
    assert shares[ASSIST][0] == "removed" and shares["县水利局"][0] == "assigned" and shares[OWN][0] == "assigned"
    gone = c.liaison(ASSIST).newest("事项变更：撤出承办单位")
    assert "本单位不再承办本事项" in gone.text and gone.buttons == []
    assert "撤出承办单位" in c.head(ASSIST).newest("事项变更：撤出承办单位").text
    await c.liaison(ASSIST).tap("反馈进展", c.liaison(ASSIST).newest("督办通知单"))
    assert "已撤出" in c.liaison(ASSIST).last_answer


async def test_an_item_is_suspended_resumed_and_cancelled(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", days=10)
    office, head, lead = c.people["王敏"], c.people["赵建国"], c.liaison(OWN)
    due = (await _shares(h))[OWN][1]
    await office.send("/item 1")
    await office.tap("中止办理")
    await office.send("上级要求暂缓实施，待方案调整。")
    await head.tap("同意变更", head.newest("中止办理"))
    await h.settle()
    assert (await _item(h)).state == "suspended" and (await _shares(h))[OWN][0] == "suspended"
    assert "本事项已中止办理" in lead.newest("事项变更：中止办理").text
    assert "本事项已中止办理" in c.head(OWN).newest("事项变更：中止办理").text
    await lead.tap("签收", lead.newest("督办通知单"))
    assert "已中止" in lead.last_answer

    h.clock.advance(days=7)  # a week: 5 working days in the demo calendar
    await office.send("/item 1")
    assert "已中止" in office.last.text
    await office.tap("恢复办理")
    await office.send("调整后的方案已批准。")
    await head.tap("同意变更", head.newest("恢复办理"))
    await h.settle()
    state, new_due = (await _shares(h))[OWN]
    assert state == "assigned" and new_due > due
    resumed = lead.newest("事项变更：恢复办理")
    assert "个工作日不计入办理期限" in resumed.text and f"<b>{new_due.isoformat()}</b>" in resumed.html
    assert "签收" in resumed.buttons

    await office.send("/item 1")
    await office.tap("撤销事项")
    await office.send("该项目已由市里统一实施。")
    await head.tap("同意变更", head.newest("撤销事项"))
    await h.settle()
    assert (await _item(h)).state == "cancelled" and (await _shares(h))[OWN][0] == "cancelled"
    assert "不计入考核" in lead.newest("事项变更：撤销事项").text
    assert "撤销事项" in c.people["陈志远"].newest("事项变更：撤销事项").text
    await office.send("/item 1")
    assert "已撤销" in office.last.text and "变更时限" not in office.last.buttons


async def test_the_unit_head_learns_of_an_extension_and_the_office_archives_from_the_closing_notice(
        demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", days=10)
    office, lead = c.people["王敏"], c.liaison(OWN)
    await lead.tap("签收", lead.newest("督办通知单"))
    await lead.send("/item 1")
    await lead.tap("申请延期")
    await lead.send("2026-06-30")
    await lead.send("雨季施工受阻。")
    await office.tap("同意延期", office.newest("延期申请"))
    await h.settle()
    told = c.head(OWN).newest("延期申请已同意")
    assert "新的办结时限：2026-06-30" in told.text and told.buttons == []
    async with h.db.session() as s:
        assert (await dossier(s, 1)).due == "2026-06-30"


async def test_the_offices_closing_notice_carries_archive(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复")
    office, lead, leader = c.people["王敏"], c.liaison(OWN), c.people["陈志远"]
    await lead.tap("签收", lead.newest("督办通知单"))
    await lead.send("/item 1")
    await lead.tap("提交办结报告")
    await lead.send("已全部修复完毕。")
    await lead.tap("完成")
    await office.tap("审核通过", office.newest("办结报告待审核"))
    await office.tap("跳过")
    await leader.tap("同意", leader.newest("办理结果请审阅"))
    await h.settle()
    closed = office.newest("事项已办结")
    assert closed.buttons == ["归档"]
    assert lead.newest("事项已办结").buttons == []  # the unit's copy has nothing to press
    await office.tap("归档", closed)
    assert "已归档" in office.last_answer and closed.buttons == ["🗄 已归档 · 查看"]
    assert (await _item(h)).state == "archived"
