"""Issue 6, done when: one item's life in the page, by clicking, as the people would do it.

王敏 (office) registers an item with /new — types the name and requirements, taps the source and
importance, finds the lead unit by part of its name, gives one working day and a leader — and
submits it; 赵建国 (office head) approves it on the request he received; 城关镇's liaison
acknowledges the 督办通知单 (签收) and reports progress with a photo (反馈进展 → photo → 完成).
Then the page's clock button moves to the next working days: on the deadline day the liaison is
reminded (今日到期); the day after, the item is overdue and the 催办 reaches the liaison, the unit
head and the office. Every step is waited for in the page; nothing is sent behind its back.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import DESKTOP
from tests.browser.pages import expect, png

pytestmark = pytest.mark.asyncio(loop_scope="session")

TITLE = "城区主干道破损路面修复"
REQUIREMENTS = "修复城关镇主干道破损路面，报送修复前后照片。"
LEAD = "城关镇"
NUMBER = "督字〔2026〕1号"
# Tall enough that the liaison's chat shows the acknowledged notice and the 催办 under it at once.
SCREENSHOT_HEIGHT = 1440


async def test_an_item_registered_by_clicking_is_acknowledged_then_escalated_when_overdue(page, screenshot_dir):
    await page.open()
    await expect(page.clock_time).to_have_text("2026年3月10日 星期二 09:00")

    # ---- 立项: 王敏 clicks through /new.
    wang = await page.open_chat("王敏")
    await wang.send("/new")
    await wang.expect_bot_text("第1步：该事项是否涉密")
    await wang.tap("不涉密")
    await wang.expect_bot_text("第2步：请输入事项名称")
    await wang.send(TITLE)
    await wang.expect_bot_text("第3步：请输入办理要求")
    await wang.send(REQUIREMENTS)
    await wang.expect_bot_text("第4步：请选择事项来源")
    await wang.tap("县政府重要工作部署")
    await wang.expect_bot_text("事项来源：县政府重要工作部署")
    await wang.expect_bot_text("第5步：请选择重要程度")
    await wang.tap("一般")
    await wang.expect_bot_text("第6步：请输入主办单位")
    await wang.send("城关")  # part of the name; the bot offers the units that match
    await wang.expect_bot_text("请选择主办单位")
    await wang.tap(LEAD)
    await wang.expect_bot_text(f"主办单位：{LEAD}")
    await wang.expect_bot_text("第7步：协办单位")
    await wang.tap("无协办单位，下一步")
    await wang.tap("不需要，下一步")  # no 分工 per unit (issue 12)
    await wang.expect_bot_text("第8步：请输入办结时限")
    await wang.send("1")  # working days after approval
    await wang.expect_bot_text("第9步：是否要求承办单位每周反馈")
    await wang.tap("不需要（默认）")
    leaders = await wang.expect_bot_text("请选择负责审阅的县领导")
    await wang.tap("陈志远")
    await expect(leaders.get_by_test_id("inline-button").filter(has_text="✅ 陈志远")).to_be_visible()
    await wang.tap("完成（已选1位）")
    summary = await wang.expect_bot_text("立项内容确认")
    for line in (f"事项名称：{TITLE}", "事项来源：县政府重要工作部署", "重要程度：一般", f"主办单位：{LEAD}",
                 "协办单位：无", "办结时限：批准后1个工作日（按今天批准计，约至2026-03-11）",
                 "是否涉密：不涉密", "审阅领导：陈志远"):
        await expect(summary).to_contain_text(line)
    await wang.tap("提交审批")
    await wang.expect_bot_text("已提交督查室负责人审批")
    await expect(summary.get_by_test_id("inline-button")).to_have_count(0)

    # ---- 审批: 赵建国 approves on the request he received.
    zhao = await page.open_chat("赵建国")
    request = await zhao.expect_bot_text("立项审批")
    await expect(request).to_contain_text(TITLE)
    await zhao.tap("同意")
    await zhao.expect_answer("已同意立项，督办通知单已下发")
    await expect(request.get_by_test_id("inline-button")).to_have_text(f"✅ 已同意（{NUMBER}）· 查看")
    approved = await wang.expect_bot_text("立项已审批")
    await expect(approved).to_contain_text(NUMBER)

    # ---- 签收 and 反馈进展 with a photo: the lead unit's liaison.
    liaison = await page.open_chat(unit=LEAD, role="联络员")
    notice = await liaison.expect_bot_text("督办通知单")
    await expect(notice).to_contain_text(NUMBER)
    await expect(notice).to_contain_text("办结时限：2026-03-11")
    await liaison.tap("签收")
    await liaison.expect_answer("已签收，签收时间已记录")
    acknowledged = notice.get_by_test_id("inline-button").filter(has_text="已签收")
    await expect(acknowledged).to_have_text(re.compile(r"^✅ 已签收 03-10 09:0\d · 查看$"))
    await liaison.tap("反馈进展")
    await liaison.expect_bot_text("反馈进展：请发送本次办理进展")
    await liaison.send_photo(png(200, 125), "修复现场.png")
    await liaison.expect_bot_text("已收到照片。目前共：文字0段、附件1个")
    await liaison.tap("完成")
    await liaison.expect_bot_text(f"{NUMBER}：进展已记录（附件1个）")

    # The unit head was sent a copy of the notice.
    head = await page.open_chat(unit=LEAD, role="单位负责人")
    await expect(await head.expect_bot_text("督办通知单")).to_contain_text("此件抄送您知悉")

    # ---- The clock moves on: the deadline day, then the day after.
    await page.advance("下一个工作日")
    await expect(page.clock_time).to_have_text("2026年3月11日 星期三 09:00")
    due_today = await liaison.expect_bot_text("督办提醒")
    await expect(due_today).to_contain_text("今日到期")
    await expect(due_today).to_contain_text(TITLE)
    # Not overdue yet: the unit head is not reminded.
    await expect(head.bot_message("督办提醒")).to_have_count(0)

    await page.advance("下一个工作日")
    await expect(page.clock_time).to_have_text("2026年3月12日 星期四 09:00")
    overdue = liaison.bot_message("已超期")
    await expect(overdue).to_have_count(1)
    for text in (NUMBER, TITLE, "时限 2026-03-11", "已超期1个工作日", "请抓紧办理"):
        await expect(overdue).to_contain_text(text)
    head_overdue = await head.expect_bot_text("已超期")
    for text in (NUMBER, TITLE, "以上超期事项由贵单位承办，请督促落实"):
        await expect(head_overdue).to_contain_text(text)
    office_reminder = await wang.expect_bot_text("请督查室跟进督办")
    await expect(office_reminder).to_contain_text("督办提醒")
    await expect(office_reminder).to_contain_text(NUMBER)

    # ---- The picture: the liaison's acknowledged notice with the 催办 under it, the unit head's beside.
    await wang.close()
    await zhao.close()
    await page.page.set_viewport_size({"width": DESKTOP["width"], "height": SCREENSHOT_HEIGHT})
    await page.screenshot(str(screenshot_dir / "sandbox-escalation.png"))
    for shown in (acknowledged, overdue, head_overdue):
        await expect(shown).to_be_in_viewport()
