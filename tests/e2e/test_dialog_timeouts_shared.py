"""Dialog timeouts with several instances behind a reverse proxy (webhook mode, issue 14).

Each instance runs PTB's timeout for the dialog steps it handled. When the person's next step
reaches the other instance, the first one's timeout must not end the dialog the person is still
in: before it acts it asks the database whether the dialog moved on (or ended) elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib

from telegram.ext import ConversationHandler

from tests.e2e import instances as inst
from tests.e2e.test_multi_instance import demo, pg_only


def timeout_jobs(app) -> list:  # noqa: ANN001
    return [j for hs in app.handlers.values() for h in hs if isinstance(h, ConversationHandler)
            for j in h.timeout_jobs.values()]


async def test_a_timeout_left_behind_on_one_instance_does_not_end_the_dialog_continued_on_the_other(
        db, clock, emu, tmp_path):
    pg_only(db)
    people = await demo(db, clock, emu)
    a, b = [await inst.start(name, db.url, emu, clock, tmp_path / "files", polling=False, shared_updates=True)
            for name in "AB"]
    inst.settle_all(emu, [a, b])
    task = asyncio.create_task(inst.proxy(emu, [a, b]))  # round robin: A, B, A, …
    try:
        office = people["王敏"]
        await office.send("/new")  # A
        await office.tap("不涉密")  # B
        (left_on_a,) = timeout_jobs(a.app)  # A's timeout of the step it handled
        clock.advance(minutes=5)
        await office.send("城区主干道破损路面修复")  # A again: its own timeout restarts
        clock.advance(minutes=5)
        await office.send("两周内完成城区主干道破损路面修复，并报送修复前后照片。")  # B
        assert "事项来源" in office.last.text
        # A's timeout falls due (15 minutes after the title): the person answered on B since.
        seen = len(office.inbox)
        for job in timeout_jobs(a.app):
            await job.run(a.app)
        assert len(office.inbox) == seen  # no "已自动取消"
        await office.tap("县政府重要工作部署")  # the dialog goes on
        assert office.last.buttons == ["一般", "重要", "紧急"]
        # The instance that handled the last step times it out, once, after its own 15 minutes.
        clock.advance(minutes=16)
        fired = [job for one in (a, b) for job in timeout_jobs(one.app)]
        for job in fired:
            await job.run(job.data.application)
        assert [m.text for m in office.inbox[seen:]].count(
            "⏰ 立项操作长时间未继续，已自动取消，未保存任何内容。如需立项，请重新发送 /new。") == 1
        assert left_on_a.removed or left_on_a not in timeout_jobs(a.app)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for one in (a, b):
            await inst.stop(one)
