"""Confidential items (涉密, regulation §9(五); issue 12 point 7): /new asks 涉密 first and then only
for a short neutral label; the units confirm on paper in one tap (已线下报送进展 /
已线下报送办结报告); whatever a liaison sends for such an item is refused and kept nowhere; the
office and the leaders see the number and the label, never content."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.domain.confidential import OFFLINE_PROGRESS, OFFLINE_REPORT, OFFLINE_REQUIREMENTS
from store.models import OutboxMessage
from store.workflow import Assignment, Attachment, CompletionReport, Item, Progress

LEAD, ASSIST = "城关镇", "县交通运输局"
LABEL = "县委交办事项（涉密）"
SECRET = "征地补偿款3000万元"  # what a liaison might be tempted to type


async def register_confidential(c) -> None:
    """王敏 registers a confidential item through /new; 赵建国 approves it."""
    office, head = c.people["王敏"], c.people["赵建国"]
    await office.send("/new")
    assert "第1步：该事项是否涉密" in office.last.text and office.last.buttons == ["不涉密", "🔒 涉密"]
    await office.tap("🔒 涉密")
    assert office.inbox[-2].text == "是否涉密：涉密"
    prompt = office.last.text
    assert "第2步：请输入涉密事项的简称" in prompt and "请勿在此输入" in prompt and "文件线下流转" in prompt

    # Anything that looks like content is refused and asked again; nothing is kept.
    await office.send(f"关于城关镇{SECRET}拨付问题的督办，请于月底前完成")
    assert "涉密事项只登记一个简短的中性简称" in office.last.text and "请重新输入" in office.last.text
    await office.send("县委交办事项")
    # No requirements step: straight to the source (the steps after it are numbered one less).
    assert "第3步：请选择事项来源" in office.last.text
    await office.tap("上级党委、政府交办事项")
    await office.tap("重要")
    assert "第5步：请输入主办单位" in office.last.text
    await office.send("城关")
    await office.tap(LEAD)
    await office.send("交通")
    await office.tap(ASSIST)
    await office.tap("完成（已选1个）")
    assert "第7步：请输入办结时限" in office.last.text  # no 分工 for a confidential item: it is content
    await office.tap("默认：7个工作日")
    assert "第8步" in office.last.text and "每周反馈" in office.last.text
    await office.tap("需要每周反馈（默认）")
    await office.tap("陈志远")
    await office.tap("完成（已选1位）")
    summary = office.last.text
    assert f"简称：{LABEL}" in summary and "文件线下流转" in summary
    assert "事项名称：" not in summary and "办理要求：" not in summary
    await office.tap("提交审批")
    assert f"涉密事项「{LABEL}」已登记（登记号1）" in office.last.text and "线下流转" in office.last.text

    request = head.last
    assert "立项审批" in request.text and f"登记号1</b> {LABEL}" in request.html
    assert "请到督查室查阅" in request.text and request.buttons == ["同意", "退回"]
    await head.tap("同意", request)


async def test_new_asks_confidential_first_and_then_only_a_neutral_label(demo_county):
    c, h = demo_county, demo_county.h
    await register_confidential(c)
    async with h.db.session() as s:
        item = await s.scalar(select(Item))
        units = {a.unit.name: a.task for a in item.assignments}
    assert (item.confidential, item.title, item.requirements, item.state) == (
        True, LABEL, OFFLINE_REQUIREMENTS, "assigned")
    assert units == {LEAD: None, ASSIST: None}

    # The 督办通知单: the number and the label; the unit confirms on paper, it does not send content.
    lead = c.liaison(LEAD)
    notice = lead.last
    assert "督字〔2026〕1号" in notice.text and LABEL in notice.text and "文件线下流转" in notice.text
    assert notice.button_rows == [["签收"], ["已线下报送进展", "申请延期"], ["已线下报送办结报告"]]
    assert c.liaison(ASSIST).last.button_rows == [
        ["签收"], ["已线下报送进展", "申请延期"], ["已线下报送办结报告", "无法协办"]]
    await lead.send("/item 1")
    assert lead.last.text.startswith(f"🔒 督字〔2026〕1号 {LABEL}\n涉密事项，内容不经本机器人传送")
    assert ["已线下报送进展", "申请延期"] in lead.last.button_rows and ["已线下报送办结报告"] in lead.last.button_rows
    assert "反馈进展" not in lead.last.buttons and "工作方案" not in lead.last.buttons


async def test_a_liaison_confirms_offline_progress_and_report_and_content_is_refused(demo_county):
    c, h = demo_county, demo_county.h
    await register_confidential(c)
    lead, office, leader = c.liaison(LEAD), c.people["王敏"], c.people["陈志远"]
    notice = lead.last

    # A reply with text or a photo is refused before anything is kept (no file downloaded either).
    await lead.send(f"已完成选址论证，{SECRET}已拨付。", reply_to=notice)
    assert "涉密事项请勿在此发送内容，请线下报送" in lead.last.text
    await lead.send_photo(b"\xff\xd8 a photo of the site", caption="现场照片", reply_to=notice)
    assert "涉密事项请勿在此发送内容，请线下报送" in lead.last.text
    # A forged 反馈进展 / 提交办结报告 / 工作方案 tap is refused the same way, before anything is typed.
    async with h.db.session() as s:
        aid = await s.scalar(select(Assignment.id).where(Assignment.role == "lead"))
    for code in ("a:prg", "a:rpt", "a:pln"):
        await lead.forge_tap(f"{code}:{aid}", notice)
        assert lead.last_answer == "涉密事项请勿在此发送内容，请线下报送。", code
    async with h.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Progress)) == 0
        assert await s.scalar(select(func.count()).select_from(Attachment)) == 0

    # 已线下报送进展: one tap, recorded with the person and the time; it also acknowledges.
    h.clock.advance(hours=1)
    await lead.tap("已线下报送进展", notice)
    assert lead.last_answer == "已记录：进展已线下报送"
    async with h.db.session() as s:
        (p,) = (await s.scalars(select(Progress))).all()
        a = await s.get(Assignment, aid)
        assert (p.text, p.created_by_id, p.created_at) == (OFFLINE_PROGRESS, c.row(lead.name).id, h.clock.now())
        assert a.state == "in_progress" and a.acknowledged_at == h.clock.now()

    # 已线下报送办结报告: the office reviews it as usual (审核通过), then the leader (审阅).
    h.clock.advance(hours=1)
    await lead.tap("已线下报送办结报告", notice)
    assert lead.last_answer == "已记录：办结报告已线下报送，等待督查室审核"
    assert notice.buttons == ["📨 已线下报送办结报告 · 查看"]
    async with h.db.session() as s:
        (r,) = (await s.scalars(select(CompletionReport))).all()
        assert (r.text, r.status, r.created_by_id) == (OFFLINE_REPORT, "pending", c.row(lead.name).id)
        assert (await s.scalar(select(Item))).state == "reported"
    review = office.last
    assert "办结报告待审核" in review.text and "督字〔2026〕1号" in review.text and LABEL in review.text
    assert review.buttons == ["审核通过", "退回重办"]
    await office.tap("审核通过", review)
    await office.tap("跳过")
    assert "审阅" in leader.last.text and LABEL in leader.last.text
    await leader.tap("同意", leader.last)
    async with h.db.session() as s:
        assert (await s.scalar(select(Item))).state == "closed"

    # Nobody was sent what the liaison typed; the office's view shows the number and label only.
    async with h.db.session() as s:
        texts = (await s.scalars(select(OutboxMessage.text))).all()
    assert texts and not [t for t in texts if SECRET in t or "选址论证" in t or "现场照片" in t]
    await office.send("/item 1")
    assert office.last.text.startswith(f"🔒 督字〔2026〕1号 {LABEL}") and "要求" not in office.last.text
    assert h.emu.violations == []


async def test_a_confidential_draft_is_edited_by_its_label_only(demo_county):
    c, h = demo_county, demo_county.h
    office, head = c.people["王敏"], c.people["赵建国"]
    await register_confidential(c)
    # A second one, returned by the office head: only the label and the non-content fields change.
    await office.send("/new")
    await office.tap("🔒 涉密")
    await office.send("专项督办工作")
    await office.tap("其他督查事项")
    await office.tap("一般")
    await office.send("城关")
    await office.tap(LEAD)
    await office.tap("无协办单位，下一步")
    await office.send("5")
    await office.tap("不需要（默认）")
    await office.tap("陈志远")
    await office.tap("完成（已选1位）")
    await office.tap("提交审批")
    await head.tap("退回", head.last)
    await head.send("简称请再概括一些。")
    await office.send("/item 登记号2")
    assert "修改简称" in office.last.buttons and "修改要求" not in office.last.buttons
    await office.forge_tap("i:req:2", office.last)
    assert office.last_answer == "涉密事项的办理要求以纸质文件为准，不在此填写或变更。"
    await office.tap("修改简称")
    await office.send(f"城关镇{SECRET}督办")
    assert "涉密事项只登记一个简短的中性简称" in office.last.text
    async with h.db.session() as s:
        assert (await s.get(Item, 2)).title == "专项督办工作（涉密）"
    await office.tap("修改简称")
    await office.send("县政府交办事项")
    async with h.db.session() as s:
        assert (await s.get(Item, 2)).title == "县政府交办事项（涉密）"
    # An approved confidential item offers no 变更要求 either.
    await office.send("/item 1")
    assert "变更时限" in office.last.buttons and "变更要求" not in office.last.buttons


async def test_a_non_confidential_item_keeps_its_content_buttons(demo_county, demo_item):
    """Nothing changes for an ordinary item: 反馈进展 and 提交办结报告 take text and files, and the
    offline confirmations are refused for it."""
    c = demo_county
    await demo_item("城区主干道破损路面修复")
    lead = c.liaison(LEAD)
    notice = lead.last
    assert notice.button_rows == [["签收"], ["反馈进展", "申请延期"], ["提交办结报告"]]
    await lead.send("已完成80%。", reply_to=notice)
    assert "督字〔2026〕1号：进展已记录" in lead.last.text
    async with c.h.db.session() as s:
        aid = await s.scalar(select(Assignment.id))
        assert (await s.scalar(select(Progress.text))) == "已完成80%。"
    await lead.forge_tap(f"a:olp:{aid}", notice)
    assert lead.last_answer == "该事项不是涉密事项，请直接在此反馈进展或提交办结报告。"
