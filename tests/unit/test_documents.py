"""The Word files, opened again with python-docx: the 督办通知单, the dossier, and the approval/archive hooks."""

from __future__ import annotations

import io
from datetime import datetime

from docx import Document
from sqlalchemy import select
from test_workflow_support import make_world, register

from bot.documents.word import (
    dossier_document,
    notice_document,
    on_item_approved,
    on_item_archived,
)
from bot.domain import assignments as asg
from bot.domain import items as items_svc
from bot.domain import review
from bot.domain.attachments import AttachmentIn, store_attachment_bytes
from bot.domain.records import record_call, record_visit
from store.models import OutboxMessage

OFFICE = "固镇县人民政府督查室"
PHOTO = b"\xff\xd8\xff\xe0 fake jpeg"


def texts(data: bytes) -> tuple[list[str], list[list[list[str]]]]:
    """(paragraphs, tables as rows of cell texts)."""
    doc = Document(io.BytesIO(data))
    return ([p.text for p in doc.paragraphs],
            [[[cell.text for cell in row.cells] for row in table.rows] for table in doc.tables])


async def test_the_notice_has_every_field(db, clock, tmp_path):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, follower_id=w.office2.id)
    async with db.session() as s:
        await asg.acknowledge(s, w.lead_liaison, item.assignments[0].id, now=clock.now())
    async with db.session() as s:
        name, data = await notice_document(s, item.id, office_name=OFFICE)
    assert name == "督字〔2026〕1号-督办通知单.docx"
    paragraphs, (fields, receipts) = texts(data)
    assert paragraphs[:3] == [OFFICE, "督办通知单", "督字〔2026〕1号"]
    assert dict(fields) == {
        "事项名称": "城区主干道破损路面修复",
        "事项来源": "县政府重要工作部署",
        "重要程度": "重要",
        "办理要求": "两周内完成城区主干道破损路面修复，并报送修复前后照片。",
        "主办单位": "城关镇",
        "协办单位": "县交通运输局、县住建局",
        "办结时限": "批准后7个工作日，即 2026-03-19 前办结",
        "反馈要求": "每周向县政府督查室反馈一次办理进展，直至办结",
        "专人跟踪": "刘督查",
        "审阅领导": "赵县长",
        "督查室联系人": "王督查（13800000000）",
        "交办日期": "2026-03-10",
        "审批人": "李主任",
    }
    assert receipts[0] == ["承办单位", "承办方式", "签收时间", "签收人（签字）"]
    assert receipts[1] == ["城关镇", "主办", "2026-03-10 09:00", ""]
    assert receipts[2:] == [["县交通运输局", "协办", "", ""], ["县住建局", "协办", "", ""]]
    assert any("每周向县政府督查室反馈一次办理进展" in p for p in paragraphs)
    assert paragraphs[-2:] == [OFFICE, "2026年03月10日"]

    # Kept as issued at approval: a later extension does not rewrite the stored notice.
    files = tmp_path / "files"
    async with db.session() as s:
        path = await on_item_approved(s, item.id, files_dir=files, office_name=OFFICE)
    assert path == files / "documents" / "2026" / "0001" / "督办通知单.docx"
    stored = path.read_bytes()
    async with db.session() as s:
        ext = await asg.request_extension(s, w.lead_liaison, item.assignments[0].id,
                                          new_due=datetime(2026, 3, 31).date(), reason="雨天", now=clock.now())
        await asg.approve_extension(s, w.office, ext.id, now=clock.now())
        await on_item_approved(s, item.id, files_dir=files, office_name=OFFICE)
        again = await notice_document(s, item.id, office_name=OFFICE, files_dir=files)
    assert path.read_bytes() == stored and again[1] == stored


async def test_the_dossier_lists_the_timeline_and_the_attachments(db, clock, tmp_path):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, assisting_unit_ids=[], source="leader")
    lead = item.assignments[0].id
    files = tmp_path / "files"
    sha, path = store_attachment_bytes(files, PHOTO)
    photo = AttachmentIn("照片-现场.jpg", len(PHOTO), "image/jpeg", "tg-1", "u-1", sha, str(path))
    clock.advance(hours=1)
    async with db.session() as s:
        await asg.acknowledge(s, w.lead_liaison, lead, now=clock.now())
        await asg.add_progress(s, w.lead_liaison, lead, text="已开工。", attachments=[photo], now=clock.now())
    clock.advance(hours=1)
    async with db.session() as s:
        await record_call(s, w.office, item_id=item.id, unit_id=w.unit("lead").id, contact="张伟 副镇长",
                          occurred_at=clock.now(), summary="询问进度。", promise="月底完成", now=clock.now())
        await record_visit(s, w.office, item_id=item.id, unit_id=w.unit("lead").id, occurred_at=clock.now(),
                           summary="暗访施工现场。", unannounced=True, photos=[photo], now=clock.now())
    clock.advance(hours=1)
    async with db.session() as s:
        report = await asg.submit_report(s, w.lead_liaison, lead, text="已全部完成。", now=clock.now())
    async with db.session() as s:
        await review.approve_report(s, w.office, report.id, now=clock.now())
    async with db.session() as s:
        await review.leader_agree(s, w.leader, item.id, now=clock.now())
    async with db.session() as s:
        await items_svc.archive_item(s, w.office, item.id, now=clock.now())
        seen = await s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
        path = await on_item_archived(s, item.id, person=w.office, files_dir=files, office_name=OFFICE,
                                      now=clock.now())
    assert path == files / "documents" / "2026" / "0001" / "卷宗.docx"
    assert (files / "documents" / "2026" / "0001" / "督办通知单.docx").exists()  # kept at archive if it was not
    paragraphs, (info, shares, timeline, attachments) = texts(path.read_bytes())
    assert paragraphs[:3] == [OFFICE, "督查事项卷宗", "督字〔2026〕1号"]
    # 分工 per unit (issue 12): each unit's task (the item's requirements unless given) and deadline.
    assert shares[0] == ["单位", "主办/协办", "分工任务", "办结时限", "状态"]
    assert [row[2] for row in shares[1:]] == ["按办理要求办理"] * (len(shares) - 1)
    assert dict(info)["事项来源"] == "领导批办、交办事项" and dict(info)["当前状态"] == "已归档"
    assert dict(info)["归档时间"] == "2026-03-10 12:00"
    assert timeline[0] == ["序号", "时间", "事项", "单位", "经办人", "内容"]
    labels = [row[2] for row in timeline[1:]]
    assert labels == ["登记立项", "提交审批", "审批同意", "下发督办通知单（主办）", "签收", "反馈进展", "电话督查",
                      "实地督查（暗访）", "提交办结报告", "审核通过", "领导审阅同意", "办结", "归档"]
    call = timeline[1 + labels.index("电话督查")]
    assert call[1:] == ["2026-03-10 11:00", "电话督查", "城关镇", "王督查", "询问进度。\n通话对象：张伟 副镇长；对方承诺：月底完成；联络员尚未确认"]
    assert timeline[1 + labels.index("反馈进展")][5] == "已开工。\n附件：照片-现场.jpg"
    assert [row[:4] for row in attachments] == [["序号", "文件名", "类别", "单位"], ["1", "照片-现场.jpg", "进展反馈", "城关镇"],
                                                ["2", "照片-现场.jpg", "实地督查", "城关镇"]]
    assert attachments[1][7] == sha[:16]
    assert paragraphs[-1].startswith("本卷宗共记录13项办理经过、2个附件")

    # The archivist gets it as a document through the outbox.
    async with db.session() as s:
        (sent,) = (await s.scalars(select(OutboxMessage).where(OutboxMessage.id > seen))).all()
    assert (sent.person_id, sent.kind, sent.file_path, sent.file_name) == (
        w.office.id, "document", str(path), "督字〔2026〕1号-卷宗.docx")
    assert "督字〔2026〕1号" in sent.text

    async with db.session() as s:
        name, data = await dossier_document(s, item.id, office_name=OFFICE, now=clock.now())
    assert name == "督字〔2026〕1号-卷宗.docx" and texts(data)[1][2] == timeline


async def test_a_confidential_dossier_is_kept_but_not_sent(db, clock, tmp_path):
    w = await make_world(db, clock.now())
    item = await register(db, w, clock.now(), approve=True, confidential=True)
    files = tmp_path / "files"
    async with db.session() as s:
        before = await s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
        path = await on_item_archived(s, item.id, person=w.office, files_dir=files, office_name=OFFICE,
                                      now=clock.now())
        after = await s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
    assert before == after
    paragraphs, _ = texts(path.read_bytes())
    assert paragraphs[0] == "★ 涉密" and "城区主干道破损路面修复" in str(texts(path.read_bytes())[1])
    async with db.session() as s:
        _, data = await notice_document(s, item.id, office_name=OFFICE)
    assert texts(data)[0][0] == "★ 涉密" and dict(texts(data)[1][0])["重要程度"] == "重要（涉密）"
