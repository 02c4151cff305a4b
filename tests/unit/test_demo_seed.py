"""The demo county's items are real: built by the domain services, in the states the sandbox shows."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.domain.schedules import load_calendar
from bot.demo.county import seed_directory
from bot.demo.items import seed_items
from bot.domain.workflow import light_for, local_date
from store.models import OutboxMessage
from store.models import Unit
from store.workflow import Assignment, Item


async def test_demo_items_cover_every_state(db):
    now = datetime(2026, 3, 17, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Beijing
    ids = iter(range(5000, 6000))
    people = await seed_directory(db, now, lambda dp: next(ids))
    async with db.session() as s:
        calendar = await load_calendar(s)
    await seed_items(db, calendar, now, people)
    async with db.session() as s:
        states = dict((await s.execute(select(Item.title, Item.state))).all())
        lead_dues = dict((await s.execute(
            select(Item.title, Assignment.due_date).join(Assignment).where(Assignment.role == "lead"))).all())
        queued = await s.scalar(select(func.count()).select_from(OutboxMessage))
        confidential = (await s.scalars(select(OutboxMessage.text).where(OutboxMessage.text.contains("请到督查室查阅")))).all()
    assert states == {
        "城区污水管网改造工程进度": "in_progress",
        "春季农田水利设施检修": "assigned",
        "校园安全隐患排查整治": "reported",
        "人大代表建议第12号：乡村道路照明": "pending",
        "政协提案第5号：农村饮水安全": "archived",
        "县委交办事项（涉密）": "assigned",
        "全县营商环境专项督查": "in_progress",  # 督查室自办
    }
    today = local_date(now)
    assert light_for(calendar, lead_dues["城区污水管网改造工程进度"], today).code == "red"
    assert light_for(calendar, lead_dues["春季农田水利设施检修"], today).code == "yellow"
    assert light_for(calendar, lead_dues["校园安全隐患排查整治"], today).code == "green"
    assert queued > 20 and confidential
    # What the sandbox shows of the office's day (issue 12): 分工 per unit, a plan with one 时间节点
    # done, a 催办 by hand.
    from store.events import ItemEvent
    from store.workflow import Milestone

    async with db.session() as s:
        tasks = dict((await s.execute(select(Unit.name, Assignment.task).join(Unit, Unit.id == Assignment.unit_id)
                                      .where(Assignment.task.is_not(None)))).all())
        done_steps = (await s.scalars(select(Milestone.done_at))).all()
        urged = await s.scalar(select(func.count()).select_from(ItemEvent).where(ItemEvent.kind == "urge"))
    assert set(tasks) == {"湖沟镇", "连城镇"}
    assert len(done_steps) == 3 and sum(d is not None for d in done_steps) == 1
    assert urged >= 1
    # The seeded chats ask the office head to approve only what still waits for him: the requests of
    # the items he approved while they were seeded are withdrawn, not left with live buttons.
    async with db.session() as s:
        titles = dict((await s.execute(select(Item.id, Item.title))).all())
        asks = (await s.execute(select(OutboxMessage.item_ids, OutboxMessage.status)
                                .where(OutboxMessage.dedupe_key.like("wf:approve-req:%")))).all()
    waiting = {titles[ids[0]] for ids, status in asks if status != "cancelled"}
    assert waiting == {"人大代表建议第12号：乡村道路照明"}
    # The confidential item travels as its number and neutral label, never with requirements.
    assert all("县委交办事项（涉密）" in t and "线下" in t for t in confidential)


async def test_the_sandbox_report_waiting_for_review_carries_its_evidence(db, tmp_path):
    """Issue 12: the office's 办结报告待审核 in the sandbox offers a photo and a PDF (查看附件)."""
    from pathlib import Path

    from store.workflow import Attachment

    now = datetime(2026, 3, 17, 2, 0, tzinfo=UTC)
    ids = iter(range(5000, 6000))
    people = await seed_directory(db, now, lambda dp: next(ids))
    async with db.session() as s:
        calendar = await load_calendar(s)
    await seed_items(db, calendar, now, people, files_dir=tmp_path / "files")
    async with db.session() as s:
        files = (await s.scalars(select(Attachment).order_by(Attachment.id))).all()
        notice = await s.scalar(select(OutboxMessage).where(OutboxMessage.text.contains("办结报告待审核"),
                                                            OutboxMessage.text.contains("校园安全")))
    assert [(f.owner_kind, f.file_name) for f in files] == [
        ("report", "照片-隐患整改现场.png"), ("report", "隐患排查整改台账.pdf")]
    assert Path(files[0].local_path).read_bytes().startswith(b"\x89PNG") and Path(files[1].local_path).is_file()
    assert ["查看附件（2）"] in [[b["text"] for b in row] for row in notice.buttons]
