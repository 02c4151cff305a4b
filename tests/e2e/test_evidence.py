"""Issue 12, point 1: the office (审核) and the leader (审阅) decide with the evidence in hand.

城关镇 reports with a photo and a PDF; the office's review notice carries the report's text and a
「查看附件」 button that sends the files; the leader's 审阅 request likewise; ``/item`` offers every
file a person may receive; an outsider's forged tap learns nothing; the office's daily digest lists
yesterday's progress (one section, not one message per entry).
"""

from __future__ import annotations

from sqlalchemy import select

from store.models import OutboxMessage
from store.workflow import CompletionReport

PHOTO = b"\xff\xd8\xff\xe0 fake jpeg: the repaired road, after"
PDF = b"%PDF-1.4 fake: the acceptance report"
LEAD, ASSIST, OUTSIDE = "城关镇", "县交通运输局", "县水利局"


def files_in(messages) -> list[str]:
    return ["photo" if m.photo else m.document["file_name"] for m in messages if m.photo or m.document]


async def test_the_report_s_files_reach_the_office_and_the_leader_where_they_decide(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    item_id = await demo_item(lead=LEAD, assists=(ASSIST,))
    office, leader = c.people["王敏"], c.people["陈志远"]
    lead, assist, outsider = c.liaison(LEAD), c.liaison(ASSIST), c.liaison(OUTSIDE)

    # The assisting unit's progress carries a file of its own (its evidence, not the lead unit's).
    await assist.tap("反馈进展", assist.newest("督办通知单"))
    await assist.send("交通疏导已安排。")
    await assist.send_document(b"%PDF-1.4 traffic plan", filename="交通疏导方案.pdf")
    await assist.tap("完成")

    # ---- 城关镇 submits its 办结报告 with a photo and a PDF.
    await lead.tap("提交办结报告", lead.newest("督办通知单"))
    await lead.send("东环路破损路面已全部修复，验收合格。")
    await lead.send_photo(PHOTO)
    await lead.send_document(PDF, filename="验收报告.pdf")
    await lead.tap("完成")
    assert "办结报告已提交" in lead.last.text

    # The office's review notice: the text, the files' names and a button that sends them.
    notice = office.newest("办结报告待审核")
    assert "东环路破损路面已全部修复，验收合格。" in notice.text
    assert "附件（2）" in notice.text and "验收报告.pdf" in notice.text and "查看附件" in notice.text
    assert notice.button_rows == [["审核通过", "退回重办"], ["查看附件（2）"]]

    before = len(office.inbox)
    await office.tap("查看附件（2）", notice)
    assert office.last_answer == "附件正在发送，请稍候"
    sent = office.inbox[before:]
    assert files_in(sent) == ["photo", "验收报告.pdf"]
    assert "督字〔2026〕1号 附件 1/2" in sent[0].text and "城关镇 · 办结报告" in sent[0].text
    assert await office.download(sent[0]) == PHOTO and await office.download(sent[1]) == PDF
    assert notice.button_rows == [["审核通过", "退回重办"], ["查看附件（2）"]]  # still there for a second look
    await office.tap("查看附件（2）", notice)  # a double tap in the same minute: the files come once
    assert len(office.inbox) == before + 2

    # ---- 审核通过 → the leader's 审阅 request carries the same evidence.
    await office.tap("审核通过", notice)
    await office.tap("跳过")
    request = leader.newest("办理结果请审阅")
    assert "东环路破损路面已全部修复" in request.text and "验收报告.pdf" in request.text
    assert ["查看附件（2）"] in request.button_rows
    before = len(leader.inbox)
    await leader.tap("查看附件（2）", request)
    assert files_in(leader.inbox[before:]) == ["photo", "验收报告.pdf"]
    assert await leader.download(leader.inbox[before + 1]) == PDF

    # ---- /item: the leader gets every file of the item (the assisting unit's too) ...
    await leader.send("/item 1")
    before = len(leader.inbox)
    await leader.tap("查看附件（3）", leader.last)
    assert files_in(leader.inbox[before:]) == ["交通疏导方案.pdf", "photo", "验收报告.pdf"]
    # ... a unit's liaison only its own unit's.
    await assist.send("/item 1")
    before = len(assist.inbox)
    await assist.tap("查看附件（1）", assist.last)
    assert files_in(assist.inbox[before:]) == ["交通疏导方案.pdf"]

    # ---- An outsider's forged taps: 无权查看, and nothing is sent.
    async with h.db.session() as s:
        report_id = await s.scalar(select(CompletionReport.id))
        queued = await s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
    before = len(outsider.inbox)
    await outsider.forge_tap(f"i:att:{item_id}")
    assert outsider.last_answer == "无权查看"
    await outsider.forge_tap(f"r:att:{report_id}")
    assert outsider.last_answer == "无权查看"
    await assist.forge_tap(f"r:att:{report_id}")  # on the item, but not the lead unit's evidence
    assert assist.last_answer == "没有可查看的附件。"
    await outsider.forge_tap(f"i:att:{item_id + 999}")  # a made-up item: the same answer
    assert outsider.last_answer == "无权查看"
    assert len(outsider.inbox) == before
    async with h.db.session() as s:
        assert await s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) == queued


async def test_the_office_reads_yesterday_s_progress_in_its_digest(demo_county, demo_item):
    c, h = demo_county, demo_county.h
    await demo_item(lead=LEAD, assists=(ASSIST,))
    office, leader = c.people["王敏"], c.people["陈志远"]
    lead, assist = c.liaison(LEAD), c.liaison(ASSIST)

    await lead.send_photo(PHOTO, caption="东环路段已修复，附现场照片。", reply_to=lead.newest("督办通知单"))
    await assist.tap("反馈进展", assist.newest("督办通知单"))
    await assist.send("交通疏导方案已制定。")
    await assist.tap("完成")
    # Progress notifies nobody at once: the office hears of it in its digest.
    assert not [m for m in office.inbox if "进展" in (m.text or "")]

    h.clock.advance(days=1)
    while h.clock.now().weekday() >= 5:  # the next working day
        h.clock.advance(days=1)
    await office.send("/digest")
    digest = office.last.text
    assert "昨日进展（2）" in digest
    section = digest[digest.index("昨日进展"):]
    assert "城关镇：东环路段已修复，附现场照片。（附件1个）" in section
    assert "县交通运输局：交通疏导方案已制定。" in section
    assert section.index("城关镇") < section.index("县交通运输局")  # oldest first
    await leader.send("/digest")
    assert "昨日进展" not in leader.last.text  # the leader's digest is about decisions, not every entry

    # The next day, those entries are no longer "yesterday's".
    h.clock.advance(days=1)
    while h.clock.now().weekday() >= 5:
        h.clock.advance(days=1)
    await office.send("/digest")
    assert "昨日进展" not in office.last.text


async def test_a_confidential_item_s_files_never_travel_through_the_chat(demo_county, demo_item):
    """§9(五): whatever a confidential item holds stays in the office; /item offers no 查看附件."""
    from store.workflow import Attachment

    c, h = demo_county, demo_county.h
    item_id = await demo_item(lead=LEAD, confidential=True)
    office = c.people["王敏"]
    async with h.db.session() as s:  # a file recorded on it (as before point 7 refused content)
        s.add(Attachment(item_id=item_id, owner_kind="progress", owner_id=1, file_name="现场照片.jpg",
                         mime_type="image/jpeg", size=3, local_path=str(c.files_dir / "x"),
                         uploaded_by_id=c.rows["王敏"].id, created_at=h.clock.now()))
    await office.send(f"/item 登记号{item_id}")
    assert not [b for b in office.last.buttons if b.startswith("查看附件")]
    before = len(office.inbox)
    await office.forge_tap(f"i:att:{item_id}", office.last)
    assert office.last_answer == "涉密事项的材料不通过机器人发送，请到督查室查阅。"
    assert len(office.inbox) == before
