"""Dialog state in the database (issue 14): a restart in the middle of /new resumes it, on SQLite
and PostgreSQL alike; what a dialog leaves behind when it ends is gone from the table too."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from telegram.ext import ConversationHandler

from bot.runtime.app import stop_polling
from store.dialog_state import DialogState
from store.workflow import Item
from tests.conftest import time_out_dialogs
from tests.e2e.conftest import Harness, _start, seed_demo_county


async def rows(db, scope: str) -> int:  # noqa: ANN001
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(DialogState).where(DialogState.scope == scope))


async def test_a_restart_in_the_middle_of_new_resumes_the_dialog(emu, db, clock, tmp_path):
    app, sender, _ = await _start(emu, db, clock, "inprocess", tmp_path / "files")
    c = await seed_demo_county(Harness(emu, app, sender, db, clock), tmp_path / "files")
    office = c.people["王敏"]
    await office.send("/new")
    await office.tap("不涉密")
    await office.send("城区主干道破损路面修复")
    await office.send("两周内完成城区主干道破损路面修复，并报送修复前后照片。")
    await office.tap("县政府重要工作部署")
    assert office.last.buttons == ["一般", "重要", "紧急"]

    await stop_polling(app)  # the bot is restarted: a new process, nothing in memory
    app, sender, _ = await _start(emu, db, clock, "inprocess", tmp_path / "files")
    try:
        await office.tap("重要")  # the question asked before the restart
        assert "主办单位" in office.last.text
        await office.send("城关")
        await office.tap("城关镇")
        await office.tap("无协办单位，下一步")
        await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)
        await office.tap("默认：7个工作日")
        await office.tap("需要每周反馈（默认）")
        await office.tap("陈志远")
        await office.tap("完成（已选1位）")
        summary = office.last.text
        # What was answered before the restart is in the summary: the dialog's data came back too.
        for line in ("事项名称：城区主干道破损路面修复", "事项来源：县政府重要工作部署", "重要程度：重要", "主办单位：城关镇"):
            assert line in summary, (line, summary)
        await office.tap("提交审批")
        async with db.session() as s:
            items = (await s.scalars(select(Item))).all()
        assert [(i.title, i.requirements) for i in items] == [
            ("城区主干道破损路面修复", "两周内完成城区主干道破损路面修复，并报送修复前后照片。")]
        assert await rows(db, "conversation") == 0  # the dialog ended: its state row is gone
    finally:
        await stop_polling(app)


async def test_a_dialog_left_open_by_a_restart_still_times_out_counted_from_its_last_step(emu, db, clock, tmp_path):
    app, sender, _ = await _start(emu, db, clock, "inprocess", tmp_path / "files")
    c = await seed_demo_county(Harness(emu, app, sender, db, clock), tmp_path / "files")
    office = c.people["王敏"]
    await office.send("/new")
    await office.tap("不涉密")
    await office.send("城区主干道破损路面修复")
    await stop_polling(app)
    clock.advance(minutes=10)  # the bot was down for ten minutes
    app, sender, _ = await _start(emu, db, clock, "inprocess", tmp_path / "files")
    try:
        (job,) = [j for hs in app.handlers.values() for h in hs if isinstance(h, ConversationHandler)
                  for j in h.timeout_jobs.values()]
        left = (job.next_t - datetime.now(job.next_t.tzinfo)).total_seconds()
        assert 280 < left <= 300, left  # /new's 15 minutes, less the 10 that passed
        assert await time_out_dialogs(app) == 1
        assert "立项操作长时间未继续，已自动取消" in office.last.text
        assert await rows(db, "conversation") == 0
        await office.send("修复城区主干道破损路面。")  # /new is really over
        assert "事项来源" not in office.last.text
    finally:
        await stop_polling(app)


async def test_a_cancelled_dialog_does_not_come_back_after_a_restart(emu, db, clock, tmp_path):
    app, sender, _ = await _start(emu, db, clock, "inprocess", tmp_path / "files")
    c = await seed_demo_county(Harness(emu, app, sender, db, clock), tmp_path / "files")
    office = c.people["王敏"]
    await office.send("/new")
    await office.tap("不涉密")
    await office.send("城区主干道破损路面修复")
    assert await rows(db, "conversation") == 1 and await rows(db, "chat") == 1
    await office.send("/cancel")
    assert await rows(db, "conversation") == 0

    await stop_polling(app)
    app, sender, _ = await _start(emu, db, clock, "inprocess", tmp_path / "files")
    try:
        await office.send("修复城区主干道破损路面。")  # would be the requirements if /new were still open
        assert "办理要求" not in office.last.text and "事项来源" not in office.last.text
    finally:
        await stop_polling(app)


async def test_an_unreadable_dialog_row_is_skipped_not_fatal(emu, db, clock, tmp_path):
    """A row an upgrade can no longer unpickle (a class renamed) costs that dialog, not the start."""
    async with db.session() as s:
        s.add(DialogState(key="[1,1]", scope="conversation", name="new_item", data=b"not a pickle",
                          updated_at=clock.now()))
    app, sender, _ = await _start(emu, db, clock, "inprocess", tmp_path / "files")
    try:
        c = await seed_demo_county(Harness(emu, app, sender, db, clock), tmp_path / "files")
        office = c.people["王敏"]
        await office.send("/new")
        assert "事项名称" in office.last.text
    finally:
        await stop_polling(app)
