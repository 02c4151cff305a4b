"""One important item through its whole life, through the chat: 立项 → 审批 → 签收 → 无法协办 →
weekly progress with a photo → 延期 → 办结报告 → 退回重办 → 再报 → 审核 → 批示 → 归档.

Everyone acts by tapping the buttons they received (or replying to a notice, or typing what they are
asked); the test then checks the database, the audit log and what each person received.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from sqlalchemy import select

from store.models import AuditEntry, OutboxMessage
from store.workflow import (
    Assignment,
    Attachment,
    CompletionReport,
    ExtensionRequest,
    Item,
    LeaderReview,
    Progress,
    Review,
)

LEAD, ASSIST1, ASSIST2 = "城关镇", "县交通运输局", "县住房和城乡建设局"
TITLE = "城区主干道破损路面修复"
PHOTO = b"\xff\xd8\xff\xe0 fake jpeg: the repaired road"
PDF = b"%PDF-1.4 fake: the traffic bureau's plan"


async def register_via_chat(office, *, title=TITLE, lead=LEAD, assists=(ASSIST1, ASSIST2), importance="重要",
                            leader="陈志远", confidential=False) -> None:
    """The office registers an item through /new and submits it for approval."""
    await office.send("/new")
    await office.tap("🔒 涉密" if confidential else "不涉密")
    if confidential:
        await office.send("县委交办事项")  # a neutral label, no title or requirements (§9(五))
    else:
        await office.send(title)
        await office.send("两周内完成城区主干道破损路面修复，并报送修复前后照片。")
    await office.tap("县政府重要工作部署")
    await office.tap(importance)
    await office.send(lead)
    await office.tap(lead)
    for unit in assists:
        await office.send(unit)
        await office.tap(unit)
    await office.tap(f"完成（已选{len(assists)}个）" if assists else "无协办单位，下一步")
    await office.tap("不需要，下一步")  # no 分工 per unit (issue 12)
    if importance == "重要":
        await office.tap("默认：7个工作日")
    else:
        await office.send("7")
    await office.tap("需要每周反馈（默认）")
    if importance == "紧急":
        await office.tap(office.name)
    await office.tap(leader)
    await office.tap("完成（已选1位）")
    await office.tap("提交审批")
    assert "已提交督查室负责人审批" in office.last.text, office.last.text


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


async def received(db, person_row) -> list[str]:
    """The headline (first line) of every queued message the person was sent, oldest first."""
    async with db.session() as s:
        texts = (await s.scalars(select(OutboxMessage.text).where(OutboxMessage.person_id == person_row.id)
                                 .order_by(OutboxMessage.id))).all()
    return [_plain(t).splitlines()[0].strip() for t in texts]


async def test_an_important_item_from_registration_to_archive_through_the_chat(demo_county_any):
    c, h = demo_county_any, demo_county_any.h
    office, office2, head, leader = (c.people[n] for n in ("王敏", "李强", "赵建国", "陈志远"))
    lead, a1, a2 = c.liaison(LEAD), c.liaison(ASSIST1), c.liaison(ASSIST2)
    lead_head, a1_head, a2_head = c.head(LEAD), c.head(ASSIST1), c.head(ASSIST2)

    # ---- 立项 (office) and 审批 (office head, one tap on the request).
    await register_via_chat(office)
    request = head.newest("立项审批")
    assert TITLE in request.text and "批准后7个工作日" in request.text
    h.clock.advance(minutes=30)
    await head.tap("同意", request)
    assert head.last_answer == "已同意立项，督办通知单已下发"
    assert request.buttons == ["✅ 已同意（督字〔2026〕1号）· 查看"]
    assert "督字〔2026〕1号" in office.newest("立项已审批").text

    notice = lead.newest("督办通知单")
    assert "督字〔2026〕1号" in notice.text and TITLE in notice.text and "2026-03-19" in notice.text
    assert notice.button_rows == [["签收"], ["反馈进展", "申请延期"], ["提交办结报告"]]
    assert a2.newest("督办通知单").button_rows == [["签收"], ["反馈进展", "申请延期"], ["提交办结报告", "无法协办"]]
    for unit_head in (lead_head, a1_head, a2_head):
        assert "抄送您知悉" in unit_head.newest("督办通知单").text and unit_head.last.buttons == []

    async with h.db.session() as s:
        item = await s.scalar(select(Item))
        ids = {a.unit.name: a.id for a in item.assignments}
    item_id = item.id

    # ---- 签收 records the time; a second (forged) tap changes nothing.
    h.clock.advance(minutes=30)
    acked_at = h.clock.now()
    await lead.tap("签收", notice)
    assert lead.last_answer == "已签收，签收时间已记录"
    assert notice.button_rows == [["✅ 已签收 03-10 10:00 · 查看"], ["反馈进展", "申请延期"], ["提交办结报告"]]
    h.clock.advance(minutes=5)
    await lead.forge_tap(f"a:ack:{ids[LEAD]}", notice)
    assert "已于03-10 10:00签收" in lead.last_answer
    await a1.tap("签收", a1.newest("督办通知单"))

    # ---- 无法协办 (assisting unit 2) with its reason: the office and the lead unit are told at once.
    a2_notice = a2.newest("督办通知单")
    await a2.tap("无法协办", a2_notice)
    assert "无法协办：请说明理由" in a2.last.text
    await a2.send("该路段不在本局管养范围。")
    assert "已报告无法协办" in a2.last.text
    assert a2_notice.buttons == ["⚠️ 已报告无法协办 · 查看"]
    for person in (office, lead):  # the office side: the item's follower (its registrant 王敏)
        assert "该路段不在本局管养范围" in person.newest("协办单位无法协办").text

    # ---- Weekly progress: the lead unit replies to the notice with a photo; unit 1 uses the button.
    h.clock.advance(days=6)  # Mon 03-16
    await lead.send_photo(PHOTO, caption="东环路段已修复，附现场照片。", reply_to=notice)
    assert "督字〔2026〕1号：进展已记录（附件1个）" in lead.last.text
    a1_notice = a1.newest("督办通知单")
    await a1.tap("反馈进展", a1_notice)
    await a1.send("交通疏导方案已制定。")
    await a1.send_document(PDF, filename="交通疏导方案.pdf")
    assert "目前共：文字1段、附件1个" in a1.last.text and a1.last.buttons == ["完成", "取消"]
    await a1.tap("完成")
    assert "进展已记录（附件1个）" in a1.last.text

    # ---- 延期: requested by the lead unit, granted by the item's office follower.
    await lead.tap("申请延期", notice)
    await lead.send("2026/3/27")
    assert "新的办结日期：2026-03-27" in lead.last.text
    await lead.send("雨季施工受阻，需延长一周。")
    assert "延期申请（至 2026-03-27）已提交" in lead.last.text
    assert notice.button_rows == [["✅ 已签收 03-10 10:00 · 查看"], ["反馈进展", "⏳ 已申请延期 · 查看"], ["提交办结报告"]]
    ext = office.newest("延期申请")
    assert "雨季施工受阻" in ext.text and ext.buttons == ["同意延期", "不同意延期"]
    await office.tap("同意延期", ext)
    assert office.last_answer == "已同意延期，已通知该单位" and ext.buttons == ["✅ 已同意延期至03-27 · 查看"]
    assert "2026-03-27" in lead.newest("延期申请已同意").text
    # Only the item's follower got the request (issue 13): no stale copy with 李强.
    assert not [m for m in office2.inbox if "延期申请" in (m.text or "")]

    # ---- 办结报告 → 退回重办.
    h.clock.advance(days=1)
    await lead.tap("提交办结报告", notice)
    await lead.send("路面已全部修复。")
    await lead.tap("完成")
    assert "办结报告已提交" in lead.last.text and notice.buttons == ["📨 已提交办结报告 · 查看"]
    report1 = office.newest("办结报告待审核")
    assert "路面已全部修复" in report1.text and report1.buttons == ["审核通过", "退回重办"]
    await office.tap("退回重办", report1)
    await office.reply(office.last, "缺少修复后照片。")  # a reply to the prompt works as well
    assert "已退回重办" in office.last.text and report1.buttons == ["↩️ 已退回重办 · 查看"]
    assert "缺少修复后照片" in lead.newest("办结报告退回重办").text

    # ---- The second report, from the item's page (the notice's outcome button opens it).
    h.clock.advance(days=1)
    await lead.tap("📨 已提交办结报告 · 查看", notice)
    page = lead.last
    assert "督字〔2026〕1号" in page.text and "退回重办1次" in page.text and "延期1次" in page.text
    await lead.tap("提交办结报告", page)
    await lead.send_photo(PHOTO + b" after", caption="已补充修复后照片，路面全部修复完毕。")
    await lead.tap("完成")
    report2 = office.newest("办结报告待审核")
    assert "第2次报送" in report2.text and report2.message_id != report1.message_id

    # Unit 1 reports its part; 李强 approves it without a site note.
    await a1.tap("提交办结报告", a1_notice)
    await a1.send("配合交通疏导已完成。")
    await a1.tap("完成")
    await office2.send("/item 1")  # 李强 does not follow the item: he reviews from its card
    await office2.tap("审核通过（县交通运输局）", office2.last)
    assert "需要填写现场核验意见吗" in office2.last.text and office2.last.buttons == ["跳过", "取消"]
    await office2.tap("跳过")
    assert "办结报告审核通过" in office2.last.text and "现场核验" not in office2.last.text

    # ---- 审核通过 with a site-verification note → the leader reviews and adds an instruction.
    await office.tap("审核通过", report2)
    await office.send("已现场核验，路面平整。")
    assert "已记录现场核验意见" in office.last.text
    review_request = leader.newest("办理结果请审阅")
    assert "已现场核验，路面平整" in review_request.text and review_request.buttons == ["同意", "批示", "退回重办", "查看附件（1）"]  # issue 12: the evidence
    await leader.tap("批示", review_request)
    await leader.send("请继续做好日常养护。")
    assert "批示已记录，事项办结" in leader.last.text and review_request.buttons == ["✅ 已批示 · 查看", "查看附件（1）"]
    assert "请继续做好日常养护" in office.newest("事项已办结").text

    # ---- 归档 from the item's page: the dossier and its attachments come back as files.
    await office.send("/item 1")
    assert office.last.buttons == ["归档", "查看附件（3）"]
    before = len(office.inbox)
    await office.tap("归档")
    assert office.last_answer == "已归档，卷宗随后发送"
    sent = office.inbox[before:]
    dossier_msg = sent[0]
    assert dossier_msg.document["file_name"] == "督字〔2026〕1号卷宗.html"
    assert "卷宗共" in dossier_msg.text and "附件3个随后发送" in dossier_msg.text
    html = (await office.download(dossier_msg)).decode("utf-8")
    for text in (TITLE, "该路段不在本局管养范围。", "雨季施工受阻", "缺少修复后照片。", "已现场核验，路面平整。",
                 "请继续做好日常养护。", "交通疏导方案.pdf"):
        assert text in html, text
    # The printable Word dossier is filed and queued through the outbox to the archivist.
    word = next(m for m in sent if m.document and m.document["file_name"].endswith(".docx"))
    assert word.document["file_name"] == "督字〔2026〕1号-卷宗.docx"
    files = [m for m in sent[1:] if m is not word and m.message_id != word.message_id]
    assert [("photo" if m.photo else m.document["file_name"]) for m in files] == ["photo", "交通疏导方案.pdf", "photo"]
    assert "附件1/3" in files[0].text and "进展反馈，城关镇" in files[0].text and "办结报告" in files[2].text
    assert await office.download(next(m for m in files if m.document)) == PDF
    assert PHOTO in {await office.download(m) for m in files if m.photo}

    # ---- The database.
    async with h.db.session() as s:
        item = await s.get(Item, item_id)
        assert (item.state, item.year, item.number) == ("archived", 2026, 1)
        a = {x.unit.name: x for x in (await s.scalars(select(Assignment).where(Assignment.item_id == item_id))).all()}
        assert (a[LEAD].state, a[LEAD].redo_count, a[LEAD].extension_count) == ("done", 1, 1)
        assert a[LEAD].acknowledged_at == acked_at and a[LEAD].due_date == date(2026, 3, 27)
        assert (a[ASSIST1].state, a[ASSIST2].state) == ("done", "declined")
        assert a[ASSIST2].declined_reason == "该路段不在本局管养范围。"
        progress = (await s.scalars(select(Progress).order_by(Progress.id))).all()
        assert [(p.assignment_id, p.text) for p in progress] == [
            (ids[LEAD], "东环路段已修复，附现场照片。"), (ids[ASSIST1], "交通疏导方案已制定。")]
        reports = (await s.scalars(select(CompletionReport).order_by(CompletionReport.id))).all()
        assert [(r.assignment_id, r.status) for r in reports] == [
            (ids[LEAD], "returned"), (ids[LEAD], "approved"), (ids[ASSIST1], "approved")]
        reviews = (await s.scalars(select(Review).order_by(Review.id))).all()
        assert [(r.approved, r.reason, r.site_note) for r in reviews] == [
            (False, "缺少修复后照片。", None), (True, None, None), (True, None, "已现场核验，路面平整。")]
        (ext_row,) = (await s.scalars(select(ExtensionRequest))).all()
        assert (ext_row.status, ext_row.new_due, ext_row.decided_by.name) == ("approved", date(2026, 3, 27), "王敏")
        (lr,) = (await s.scalars(select(LeaderReview))).all()
        assert (lr.decision, lr.instruction, lr.leader.name) == ("instruct", "请继续做好日常养护。", "陈志远")
        attachments = (await s.scalars(select(Attachment).order_by(Attachment.id))).all()
        assert [(f.owner_kind, f.mime_type) for f in attachments] == [
            ("progress", "image/jpeg"), ("progress", "application/pdf"), ("report", "image/jpeg")]
        for f in attachments:
            assert f.telegram_file_id and f.telegram_file_unique_id and f.sha256 and f.size > 0
            path = Path(f.local_path)
            assert path.is_file() and path.is_relative_to(c.files_dir) and path.name == f.sha256[2:]
        assert Path(attachments[0].local_path).read_bytes() == PHOTO
        assert attachments[1].file_name == "交通疏导方案.pdf" and Path(attachments[1].local_path).read_bytes() == PDF

        # ---- The audit log: who did what, under the action's name.
        entries = (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    by_action: dict[str, set[str]] = {}
    for e in entries:
        by_action.setdefault(e.action, set()).add(e.actor_label)
    expected = {
        "item.register": {"王敏"}, "item.submit": {"王敏"}, "item.approve": {"赵建国"},
        "assignment.acknowledge": {lead.name, a1.name}, "assignment.decline": {a2.name},
        "progress.add": {lead.name, a1.name}, "extension.request": {lead.name}, "extension.approve": {"王敏"},
        "report.submit": {lead.name, a1.name}, "report.return": {"王敏"}, "report.approve": {"王敏", "李强"},
        "leader.instruct": {"陈志远"}, "item.archive": {"王敏"},
    }
    for action, actors in expected.items():
        assert by_action.get(action) == actors, (action, by_action.get(action))
    ack_rows = [e for e in entries if e.action == "assignment.acknowledge" and e.entity == "assignments"
                and e.entity_id == str(ids[LEAD])]
    assert len(ack_rows) == 1  # the second tap recorded nothing

    # ---- What each person received (the queued notices, in order).
    got = {name: await received(h.db, c.row(name)) for name in c.rows}
    assert got["王敏"] == ["✅ 立项已审批", "⚠️ 协办单位无法协办", "⏳ 延期申请", "📨 办结报告待审核",
                          "📨 办结报告待审核", "📨 办结报告待审核", "🏁 事项已办结", "📄 督字〔2026〕1号 卷宗（归档）"]
    assert got["李强"] == []  # notices about an item go to its follower only (issue 13)
    assert got["赵建国"] == ["📝 立项审批"]
    assert got[lead.name] == ["📋 督办通知单", "⚠️ 协办单位无法协办", "✅ 延期申请已同意", "↩️ 办结报告退回重办",
                              "✅ 办结报告审核通过", "🏁 事项已办结"]
    assert got[a1.name] == ["📋 督办通知单", "✅ 办结报告审核通过", "🏁 事项已办结"]
    assert got[a2.name] == ["📋 督办通知单"]
    # The lead unit's head learns of the granted extension too (issue 12: deadline changes reach the head).
    assert got[lead_head.name] == ["📋 督办通知单", "✅ 延期申请已同意"]
    for unit_head in (a1_head, a2_head):
        assert got[unit_head.name] == ["📋 督办通知单"]
    assert got["陈志远"] == ["📑 办理结果请审阅"]
    others = {n: g for n, g in got.items() if n not in {"王敏", "李强", "赵建国", "陈志远", lead.name, a1.name, a2.name,
                                                        lead_head.name, a1_head.name, a2_head.name}}
    assert all(not g for g in others.values()), others
