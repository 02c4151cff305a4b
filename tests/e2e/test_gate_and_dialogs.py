"""The gate and the dialog guard: edits, blank text, a failing database, forged chats, what an
outsider learns from a refusal, and one open dialog per person with one /cancel."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import bot.runtime.senders
from bot.domain import assignments as asg
from bot.domain import review
from store.models import AuditEntry
from store.workflow import Assignment, Item, Progress

PHOTO = b"\xff\xd8\xff\xe0 fake jpeg: evidence"
STRAY = "请通过命令或按钮操作"


async def count(db, model) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(model))


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- edits -----------------------------------------------------------------------------------


async def test_editing_an_old_command_is_answered_politely_and_changes_nothing(demo_county, demo_item, caplog):
    c = demo_county
    await demo_item()
    wang = c.people["王敏"]
    command = await wang.send("/items")
    seen = len(wang.inbox)
    audit = await count(c.h.db, AuditEntry)

    with caplog.at_level(logging.ERROR):
        await wang.edit(command, "/item 1")
    assert len(wang.inbox) == seen + 1
    assert wang.last.text == "修改已发送的消息不会被记录。如需更正，请重新发送一条消息。"
    assert await count(c.h.db, AuditEntry) == audit
    assert not [r for r in caplog.records if "handler_error" in r.getMessage()]


async def test_editing_the_title_typed_in_new_does_not_change_the_draft(demo_county):
    wang = demo_county.people["王敏"]
    await wang.send("/new")
    await wang.tap("不涉密")
    title = await wang.send("城区路灯维修")
    assert "请输入" in wang.last.text
    prompt = wang.last.text
    await wang.edit(title, "完全不同的标题")
    assert wang.last.text.startswith("修改已发送的消息不会被记录")
    # The dialog goes on where it was: the next text answers the step after the title.
    await wang.send("按期完成路灯维修并报送照片")
    assert wang.last.text != prompt


async def test_a_strangers_edit_gets_no_answer(demo_county, emu):
    stranger = emu.person("路人甲")
    message = await stranger.send("你好")
    seen = len(stranger.inbox)
    await stranger.edit(message, "你好吗")
    assert len(stranger.inbox) == seen


# --- blank text and a failing gate ---------------------------------------------------------------


async def test_whitespace_only_text_is_answered(demo_county, emu):
    liaison = demo_county.liaison("城关镇")
    for text in ("\u3000", "\u3000\u3000 \u3000", "\u200b"):
        await liaison.send(text)
        assert STRAY in liaison.last.text
    stranger = emu.person("路人乙")
    await stranger.send("\u3000")
    assert "仅供受邀人员使用" in stranger.last.text


async def test_a_database_error_in_the_gate_is_try_again_not_a_refusal_and_stops_the_update(
        demo_county, demo_item, monkeypatch, caplog):
    c = demo_county
    await demo_item()
    liaison = c.liaison("城关镇")

    async def broken(session, telegram_ids):  # noqa: ANN001
        raise OperationalError("SELECT people", {}, Exception("database is locked"))

    monkeypatch.setattr(bot.runtime.senders, "people_by_telegram_ids", broken)
    seen = len(liaison.inbox)
    with caplog.at_level(logging.WARNING):
        await liaison.send("/items")
    assert [m.text for m in liaison.inbox[seen:]] == ["系统暂时繁忙，您的操作未被处理，请稍后再试。"]
    assert any("gate_transient_error" in r.getMessage() for r in caplog.records)

    notice = next(m for m in liaison.inbox if "签收" in m.buttons)
    await liaison.tap("签收", notice)
    assert liaison.last_answer == "系统暂时繁忙，您的操作未被处理，请稍后再试。"
    async with c.h.db.session() as s:
        assert (await s.scalars(select(Assignment.acknowledged_at))).all() == [None]

    monkeypatch.undo()
    await liaison.send("/items")
    assert "城区主干道破损路面修复" in liaison.last.text


async def test_an_unexpected_error_in_the_gate_fails_closed(demo_county, monkeypatch, caplog):
    liaison = demo_county.liaison("城关镇")

    async def broken(session, telegram_ids):  # noqa: ANN001
        raise KeyError("bug")

    monkeypatch.setattr(bot.runtime.senders, "people_by_telegram_ids", broken)
    seen = len(liaison.inbox)
    with caplog.at_level(logging.ERROR):
        await liaison.send("/help")
    assert [m.text for m in liaison.inbox[seen:]] == [
        "抱歉，处理时出现错误，您的操作未被处理，请稍后再试。如多次出现请联系督查室。"]
    assert any("gate_error" in r.getMessage() for r in caplog.records)


# --- forged chats and what a refusal tells an outsider -------------------------------------------


async def test_a_tap_naming_someone_elses_chat_edits_nothing_there(demo_county, demo_item):
    c = demo_county
    await demo_item()
    own, other = c.liaison("城关镇"), c.liaison("县财政局")
    notice = next(m for m in own.inbox if "签收" in m.buttons)
    buttons = notice.button_rows

    await other.forge_tap(notice.button("签收")["callback_data"], notice)
    assert other.last_answer == "这个按钮已失效，请重新发送命令。"
    assert notice.button_rows == buttons and not notice.edited
    async with c.h.db.session() as s:
        assert (await s.scalars(select(Assignment.acknowledged_at))).all() == [None]


async def test_an_outsider_learns_nothing_but_no_access(demo_county, demo_item):
    c = demo_county
    await demo_item("涉密的征地补偿事项", confidential=True)
    own, other = c.liaison("城关镇"), c.liaison("县财政局")
    notice = next(m for m in own.inbox if "签收" in m.buttons)
    data = notice.button("签收")["callback_data"]

    await other.forge_tap(data)  # a valid payload copied from another unit's notice
    assert other.last_answer == "无权查看"
    await other.forge_tap("i:v:1")
    assert other.last_answer == "无权查看"
    await other.send("/item 1")
    assert "城关镇" not in other.last.text and "1号" not in other.last.text and "无权查看" in other.last.text


async def test_a_refused_reply_stores_no_file(demo_county, demo_item):
    c = demo_county
    item_id = await demo_item()
    liaison = c.liaison("城关镇")
    notice = next(m for m in liaison.inbox if "签收" in m.buttons)
    now = c.h.clock.now()
    async with c.h.db.session() as s:  # the item is closed: the old notice takes no more progress
        (assignment_id,) = (await s.scalars(select(Assignment.id))).all()
        report = await asg.submit_report(s, c.rows[liaison.name], assignment_id, text="已办结", now=now)
        await review.approve_report(s, c.rows["王敏"], report.id, now=now)
        await review.leader_agree(s, c.rows["陈志远"], item_id, now=now)
    before = files_in(c.files_dir)
    progress = await count(c.h.db, Progress)

    seen = len(liaison.inbox)
    await liaison.send_photo(PHOTO, caption="现场照片", reply_to=notice)
    # The refusal among what came after the photo (the closing notices may follow it).
    assert "⚠️ 城关镇承办的督字〔2026〕1号当前为「已办结」，不能反馈进展。" in [m.text for m in liaison.inbox[seen:]]
    assert files_in(c.files_dir) == before
    assert await count(c.h.db, Progress) == progress


# --- one dialog at a time --------------------------------------------------------------------------


async def test_a_second_dialog_is_refused_with_a_button_to_cancel_the_first(demo_county, demo_item):
    c = demo_county
    await demo_item()
    wang = c.people["王敏"]
    await wang.send("/new")
    await wang.send("/call")
    busy = wang.last
    assert "登记督查事项（/new）" in busy.text and "/cancel" in busy.text
    assert busy.buttons == ["取消「登记督查事项（/new）」"]

    await wang.tap("取消「登记督查事项（/new）」", busy)
    assert "已取消立项" in wang.last.text
    await wang.send("/call")
    assert "电话督查" in wang.last.text
    await wang.send("/cancel")
    assert "已取消" in wang.last.text
    await wang.send("1")
    assert STRAY in wang.last.text
    async with c.h.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Item)) == 1  # only demo_item's


async def test_the_new_dialog_does_not_take_the_other_dialogs_input(demo_county, demo_item):
    c = demo_county
    await demo_item()
    wang = c.people["王敏"]
    await wang.send("/call")
    await wang.send("/new")
    assert "电话督查记录（/call）" in wang.last.text
    await wang.send("1")  # the item number the /call dialog asked for
    assert "请输入通话对象" in wang.last.text


async def test_one_cancel_ends_whichever_dialog_is_open(demo_county, demo_item):
    c = demo_county
    await demo_item()
    wang, liaison = c.people["王敏"], c.liaison("城关镇")
    for start in ("/new", "/call", "/visit", "/bulletin", "/score add", "/invite"):
        await wang.send(start)
        await wang.send("/cancel")
        assert "取消" in wang.last.text, start
        await wang.send("随便说一句")
        assert STRAY in wang.last.text, start

    await liaison.tap("反馈进展")
    await liaison.send("/cancel")
    assert "已取消" in liaison.last.text
    await liaison.send("随便说一句")
    assert STRAY in liaison.last.text


async def test_a_button_that_opens_another_dialog_is_refused_with_an_alert(demo_county, demo_item):
    c = demo_county
    await demo_item()
    wang, liaison = c.people["王敏"], c.liaison("城关镇")
    await wang.send("/call 1")
    for answer in ("张伟 副镇长", "昨天 15:30", "询问修复进度", "3月20日前完工"):
        await wang.send(answer)
    record = liaison.last
    assert record.buttons == ["确认", "有异议"]

    notice = next(m for m in liaison.inbox if "反馈进展" in m.buttons)
    await liaison.tap("反馈进展", notice)
    await liaison.tap("有异议", record)
    assert "尚未完成" in liaison.last_answer and "/cancel" in liaison.last_answer
    await liaison.send("东段已完工")  # still the progress the open dialog asked for
    assert "东段已完工" not in record.text
    await liaison.tap("完成")
    async with c.h.db.session() as s:
        assert (await s.scalars(select(Progress.text))).all() == ["东段已完工"]
