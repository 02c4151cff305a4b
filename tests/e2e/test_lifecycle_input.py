"""The dialogs behind the buttons: transfers, plans, replies with albums, and bad input of every kind
(too long, empty, the wrong kind of message, blocked or oversized files, bad dates), /cancel and timeouts."""

from __future__ import annotations

from sqlalchemy import func, select

from store.workflow import Assignment, Attachment, Milestone, Plan, Progress, Transfer
from tests.conftest import time_out_dialogs

OWN, ASSIST = "城关镇", "县交通运输局"


async def count(db, model, *where) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def test_a_transfer_is_requested_and_the_office_picks_the_new_unit(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", assists=(ASSIST,))
    assist = c.liaison(ASSIST)
    notice = assist.newest("督办通知单")
    await assist.tap("签收", notice)
    await assist.send("/item 1")
    await assist.tap("申请转办")
    await assist.send("该路段属水利堤防，应由县水利局办理。")
    assert "转办申请已提交" in assist.last.text

    office = c.people["王敏"]
    request = office.newest("转办申请")
    assert "应由县水利局办理" in request.text and request.buttons == ["同意转办", "不同意转办"]
    await office.tap("同意转办", request)
    assert "转办后承办单位" in office.last.text
    await office.send("不存在")
    assert "没有名称包含「不存在」的单位" in office.last.text
    await office.send("城关")
    await office.tap("城关镇")
    assert "城关镇已是本事项的承办单位，不能再转办给它" in office.last.text and "请重新输入" in office.last.text
    await office.send("水利")
    await office.tap("县水利局")
    assert "已转办至县水利局" in office.last.text
    assert request.buttons == ["🔀 已转办至县水利局 · 查看"]

    assert "已由县交通运输局转至县水利局办理" in assist.newest("转办申请已同意").text
    water = c.liaison("县水利局")
    new_notice = water.newest("督办通知单")
    assert new_notice.button_rows == [["签收"], ["反馈进展", "申请延期"], ["提交办结报告", "无法协办"]]
    async with h.db.session() as s:
        t = await s.scalar(select(Transfer))
        states = {a.unit.name: a.state for a in (await s.scalars(select(Assignment))).all()}
    assert (t.status, t.to_unit.name, t.decided_by.name) == ("approved", "县水利局", "王敏")
    assert states == {OWN: "assigned", ASSIST: "transferred", "县水利局": "assigned"}
    # The old unit's buttons are stale now.
    await assist.tap("反馈进展", notice)
    assert "已转办" in assist.last_answer and assist.answers[-1]["show_alert"]


async def test_a_plan_with_milestones_and_a_refused_transfer(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", days=20)
    lead = c.liaison(OWN)
    await lead.send("/item 1")
    await lead.tap("工作方案")
    await lead.send("分三段施工，先主干道后支路。\n2026-03-20 完成东段\n3月31日：完成西段")
    await lead.send_document(b"%PDF plan", filename="施工方案.pdf")
    await lead.tap("完成")
    assert "工作方案已提交（附件1个）" in lead.last.text
    assert "· 2026-03-20 完成东段" in lead.last.text and "· 2026-03-31 完成西段" in lead.last.text
    async with h.db.session() as s:
        plan = await s.scalar(select(Plan))
        steps = [(m.due_date.isoformat(), m.title) for m in (await s.scalars(select(Milestone))).all()]
    assert plan.text == "分三段施工，先主干道后支路。" and steps == [("2026-03-20", "完成东段"), ("2026-03-31", "完成西段")]

    await lead.send("/item 1")
    await lead.tap("申请转办")
    await lead.send("不属于本镇职责。")
    office = c.people["王敏"]  # the item's follower (its registrant) gets the request (issue 13)
    await office.tap("不同意转办", office.newest("转办申请"))
    await office.send("该路段在城关镇辖区内，请继续办理。")
    assert "已不同意转办" in office.last.text
    assert "请继续办理" in lead.newest("转办申请未同意").text


async def test_an_album_replied_to_the_notice_is_one_progress_entry(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复")
    lead = c.liaison(OWN)
    notice = lead.newest("督办通知单")
    # The emulator's people cannot send albums yet: store the messages of one as Telegram delivers them.
    emu = h.emu
    chat = emu.chats[lead.id]
    target = {k: v for k, v in chat.messages[notice.message_id].items() if k != "reply_to_message"}
    for i in range(3):
        content = {"photo": emu.files.add_photo(f"photo {i}".encode()), "media_group_id": "13000000000000001"}
        if i == 0:
            content["caption"] = "东段施工现场。"
        emu._enqueue("message", emu._store(chat, emu._user(lead.id), content, reply_to=target))
    await emu.settle()
    assert [m.text for m in lead.inbox if "进展已记录" in (m.text or "")] == [
        "✅ 督字〔2026〕1号：进展已记录（附件1个）。\n（回复督办通知单即可反馈；一组照片记为同一条进展。）"]
    async with h.db.session() as s:
        (p,) = (await s.scalars(select(Progress))).all()
        files = (await s.scalars(select(Attachment).where(Attachment.owner_id == p.id))).all()
    assert p.text == "东段施工现场。" and len(files) == 3 and len({f.sha256 for f in files}) == 3

    # Two replies in a row are two entries.
    await lead.reply(notice, "西段已开工。")
    await lead.send_document(b"%PDF weekly", filename="周报.pdf", reply_to=notice)
    assert await count(h.db, Progress) == 3
    # A reply to a message that is not a notice is explained.
    await lead.send("/items")
    await lead.reply(lead.last, "这是进展")
    assert "这条消息不能直接回复反馈" in lead.last.text
    await c.head(OWN).reply(c.head(OWN).newest("督办通知单"), "我来反馈")  # the unit head's copy
    assert "只有城关镇的联络员才能反馈进展" in c.head(OWN).last.text
    assert await count(h.db, Progress) == 3


async def test_bad_input_in_the_dialogs_is_explained(demo_county, demo_item, tmp_path):
    c, h = demo_county, demo_county.h
    await demo_item("道路修复", approve=False)
    head = c.people["赵建国"]
    await head.tap("退回")
    await head.send("理" * 2001)
    assert "退回理由太长：最多2000字，现有2001字" in head.last.text and "请重新输入" in head.last.text
    await head.send_photo(b"\xff\xd8 not a reason")
    assert "请输入文字，或发送 /cancel 取消" in head.last.text
    await head.send("请补充资金来源。")
    assert "已退回" in head.last.text
    assert "请补充资金来源" in c.people["王敏"].newest("立项申请被退回").text

    await demo_item("路灯维修", lead=OWN)
    lead = c.liaison(OWN)
    notice = lead.newest("路灯维修")
    await lead.tap("提交办结报告", notice)
    await lead.tap("完成")
    assert "还没有收到任何内容" in lead.last.text
    await lead.send_document(b"MZ evil", filename="setup.EXE")
    assert "不接收.exe类型的文件" in lead.last.text
    big = b"\0" * (20 * 1024 * 1024 + 1)
    downloads = h.emu.stats.calls["getFile"]
    await lead.send_document(big, filename="航拍.mp4")
    assert "文件太大（20.0 MB）" in lead.last.text and h.emu.stats.calls["getFile"] == downloads
    await lead.send_photo(b"\xff\xd8 site")
    assert "目前共：文字0段、附件1个" in lead.last.text
    await lead.tap("完成")
    assert "办结报告不能为空" in lead.last.text
    await lead.send("短" * 1999)
    await lead.send("再补充两句")
    assert "合计最多2000字" in lead.last.text
    await lead.send("好")
    await lead.tap("完成")
    assert "办结报告已提交（附件1个）" in lead.last.text

    await demo_item("公园绿化", lead=OWN)
    notice = lead.newest("公园绿化")
    await lead.tap("申请延期", notice)
    for text, expected in {"下个月": "格式不对", "2026-02-30": "不存在", "2026-03-18": "应晚于现在的期限 2026-03-19"}.items():
        await lead.send(text)
        assert expected in lead.last.text, (text, lead.last.text)
    await lead.send("2026-04-10")
    await lead.send("/cancel")
    assert "已取消，未作任何更改" in lead.last.text
    assert await count(h.db, Progress) == 0


async def test_a_new_button_replaces_an_open_prompt_and_an_abandoned_prompt_times_out(demo_county, demo_item):
    c = demo_county
    await demo_item("道路修复")
    lead = c.liaison(OWN)
    notice = lead.newest("督办通知单")
    await lead.tap("申请延期", notice)
    await lead.tap("反馈进展", notice)
    assert "上一项未完成的操作已取消" in lead.last.text and "反馈进展" in lead.last.text
    await lead.tap("取消")
    assert "已取消，未作任何更改" in lead.last.text

    await lead.tap("提交办结报告", notice)
    await lead.send("写了一半")
    assert await time_out_dialogs(c.h.app) == 1  # the prompt's ASK_TIMEOUT_SECONDS have passed
    await c.h.settle()
    assert "督字〔2026〕1号：操作长时间未继续，已自动取消，未作任何更改" in lead.last.text
    assert not any("完成" in m.buttons or "取消" in m.buttons for m in lead.inbox)  # nothing left to tap
    await lead.forge_tap("ask:ok")
    assert "该操作已结束" in lead.last_answer


async def test_one_dialog_at_a_time(demo_county, demo_item):
    c = demo_county
    await demo_item("道路修复")
    lead, office = c.liaison(OWN), c.people["王敏"]
    await lead.tap("提交办结报告")
    await lead.send("已办结。")
    await lead.tap("完成")
    report = office.newest("办结报告待审核")

    await office.send("/new")
    await office.tap("退回重办", report)
    assert "登记督查事项（/new）" in office.last_answer and "/cancel" in office.last_answer
    assert "事项名称" in office.last.text
    await office.send("/cancel")
    await office.tap("退回重办", report)
    await office.send("/new")
    assert "您还有一项操作未完成（督字〔2026〕1号·退回重办）" in office.last.text
    await office.send("缺少照片。")
    assert "已退回重办" in office.last.text
