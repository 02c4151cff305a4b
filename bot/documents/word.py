"""Word files (python-docx): the printable 督办通知单 and the archive dossier (卷宗).

* ``notice_docx`` / ``dossier_docx`` build the bytes from the item and from ``bot.domain.dossier``;
* ``on_item_approved`` and ``on_item_archived`` are the hooks the approval and archive steps call
  (in the same session, after the service): they store the files under
  ``files_dir/documents/<year>/<number>/`` and, at archive, queue the dossier through the outbox to
  the person who archived it. A confidential item's files are stored on the server but never sent:
  the messenger carries no content of a confidential item.

No telegram here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.attachments import write_atomically
from bot.domain.dossier import Dossier, dossier
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.workflow import UNIT_ROLES_OF_ASSIGNMENT, can_view, item_card, item_label, load_item
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.render import render
from bot.outbox.queue import enqueue
from store.models import Person
from store.workflow import Item

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument  # the class; docx.Document is its factory

FONT = "宋体"
TITLE_FONT = "黑体"
NOTICE_NAME = "督办通知单.docx"
DOSSIER_NAME = "卷宗.docx"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

NOTICE_REQUIREMENTS = (
    "一、承办单位收到本通知后，请及时签收，呈单位主要负责人审阅，按要求制订工作方案，倒排工作计划，明确时间节点。",
    "二、请在规定时限内办结并向县政府督查室报送办结报告；办理时限超过一周的，每周向县政府督查室反馈一次办理进展，直至办结。",
    "三、涉及多个单位的，由主办单位牵头，主动与协办单位商议共同办理，并负责报告办理结果；协办单位不能协助办理的，须及时报告并说明理由。",
    "四、确需延期办理的，请在办结时限前提出延期申请，说明理由。",
)


def _local(when: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return when.astimezone(OFFICE_TZ).strftime(fmt) if when else ""


def _new_document() -> DocxDocument:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.left_margin = section.right_margin = Cm(2.6)
    section.top_margin, section.bottom_margin = Cm(3.0), Cm(2.5)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(12)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    return doc


def _run_font(run, name: str, size: float, bold: bool = False) -> None:  # noqa: ANN001
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)  # noqa: SLF001 — no API for it


def _paragraph(
    doc: DocxDocument,
    text: str,
    *,
    size: float = 12,
    bold: bool = False,
    font: str = FONT,
    align: WD_ALIGN_PARAGRAPH | None = None,
) -> None:
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    _run_font(p.add_run(text), font, size, bold)


def _table(
    doc: DocxDocument, header: Sequence[str] | None, rows: Sequence[Sequence[str]], widths: Sequence[float]
) -> None:
    table = doc.add_table(rows=0, cols=len(widths))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r, values in enumerate([header, *rows] if header else rows):
        cells = table.add_row().cells
        for c, value in enumerate(values):
            cells[c].width = Cm(widths[c])
            cells[c].text = ""
            run = cells[c].paragraphs[0].add_run(str(value) if value is not None else "")
            _run_font(run, FONT, 10.5, bold=bool(header) and r == 0)


def _bytes(doc: DocxDocument) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# 督办通知单
# --------------------------------------------------------------------------------------------


def notice_docx(item: Item, *, office_name: str, approved_by: str | None = None) -> bytes:
    """The 督办通知单 with every field of the notice, and a receipt table (签收栏) per unit."""
    card = item_card(item)
    doc = _new_document()
    if item.confidential:
        _paragraph(doc, "★ 涉密", size=12, bold=True, font=TITLE_FONT)
    _paragraph(doc, office_name, size=18, bold=True, font=TITLE_FONT, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, "督办通知单", size=22, bold=True, font=TITLE_FONT, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, card["number"], size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
    due = card["due"]
    if item.due_provisional:
        due += "（暂定：所涉年份放假安排公布后重新计算）"
    contact = card["contact"] or ""
    if card["contact_phone"]:
        contact += f"（{card['contact_phone']}）"
    rows = [
        ("事项名称", card["title"]),
        ("事项来源", card["source"]),
        ("重要程度", card["importance"] + ("（涉密）" if item.confidential else "")),
        ("办理要求", card["requirements"]),
        ("主办单位", "、".join(card["lead_units"])),
        ("协办单位", "、".join(card["assist_units"]) or "无"),
        ("办结时限", f"{card['deadline_rule']}，即 {due} 前办结"),
        (
            "反馈要求",
            "每周向县政府督查室反馈一次办理进展，直至办结" if card["weekly_feedback"] else "办结后及时报送办结报告",
        ),
        ("专人跟踪", card["follower"] or "无"),
        ("审阅领导", "、".join(card["leaders"])),
        ("督查室联系人", contact),
        ("交办日期", _local(item.approved_at, "%Y-%m-%d")),
        ("审批人", approved_by or ""),
    ]
    _table(doc, None, rows, (3.5, 12.3))
    _paragraph(doc, "")
    _paragraph(doc, "办理要求", size=12, bold=True)
    for line in NOTICE_REQUIREMENTS:
        _paragraph(doc, line, size=12)
    _paragraph(doc, "")
    _paragraph(doc, "签收栏", size=12, bold=True)
    receipts = [
        (a.unit.name, UNIT_ROLES_OF_ASSIGNMENT[a.role], _local(a.acknowledged_at), "")
        for a in item.assignments
        if a.state not in ("draft", "transferred")
    ]
    _table(doc, ("承办单位", "承办方式", "签收时间", "签收人（签字）"), receipts, (5.2, 2.2, 4.2, 4.2))
    _paragraph(doc, "")
    _paragraph(doc, office_name, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(doc, _local(item.approved_at, "%Y年%m月%d日"), align=WD_ALIGN_PARAGRAPH.RIGHT)
    return _bytes(doc)


# --------------------------------------------------------------------------------------------
# 卷宗
# --------------------------------------------------------------------------------------------


def dossier_docx(d: Dossier, *, office_name: str, generated_at: datetime) -> bytes:
    """The archive dossier: the item's fields, the timeline (办理经过) and the list of attachments."""
    doc = _new_document()
    if d.confidential:
        _paragraph(doc, "★ 涉密", size=12, bold=True, font=TITLE_FONT)
    _paragraph(doc, office_name, size=16, bold=True, font=TITLE_FONT, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, "督查事项卷宗", size=22, bold=True, font=TITLE_FONT, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, d.label, size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
    info = [
        ("事项名称", d.title),
        ("编号", d.number or d.label),
        ("事项来源", d.source),
        ("重要程度", d.importance + ("（涉密）" if d.confidential else "")),
        ("办理要求", d.requirements),
        *(
            [("承办", "督查室自办（不交办承办单位）")]
            if d.office_handled
            else [("主办单位", "、".join(d.lead_units)), ("协办单位", "、".join(d.assist_units) or "无")]
        ),
        ("办结时限", f"{d.deadline_rule}，至 {d.due}"),
        ("审阅领导", "、".join(d.leaders)),
        ("专人跟踪", d.follower or "无"),
        ("登记人", d.created_by),
        ("登记时间", _local(d.created_at)),
        ("办结时间", _local(d.closed_at)),
        ("归档时间", _local(d.archived_at)),
        ("当前状态", d.state),
    ]
    _table(doc, None, info, (3.5, 12.3))

    if d.shares:  # 分工 per unit (§4(五), issue 12): each unit's own task and deadline
        _paragraph(doc, "")
        _paragraph(doc, "承办单位分工", size=14, bold=True, font=TITLE_FONT)
        shares = [(s.unit, s.role, s.task or "按办理要求办理", s.due, s.state) for s in d.shares]
        _table(doc, ("单位", "主办/协办", "分工任务", "办结时限", "状态"), shares, (3.4, 1.8, 5.9, 2.6, 2.1))

    _paragraph(doc, "")
    _paragraph(doc, "一、办理经过", size=14, bold=True, font=TITLE_FONT)
    timeline = []
    for i, e in enumerate(d.entries, start=1):
        content = [x for x in (e.text, e.note) if x]
        content += [f"附件：{f.file_name}" for f in e.attachments]
        timeline.append((str(i), _local(e.at), e.label, e.unit or "", e.actor or "", "\n".join(content)))
    _table(doc, ("序号", "时间", "事项", "单位", "经办人", "内容"), timeline, (1.1, 2.9, 2.6, 2.6, 2.6, 4.0))

    _paragraph(doc, "")
    _paragraph(doc, "二、附件清单", size=14, bold=True, font=TITLE_FONT)
    if d.attachments:
        files = [
            (
                str(i),
                f.file_name,
                f.owner_label,
                f.unit or "",
                f.uploaded_by,
                _local(f.at),
                f"{f.size / 1024:.1f}",
                (f.sha256 or "")[:16],
            )
            for i, f in enumerate(d.attachments, start=1)
        ]
        _table(
            doc,
            ("序号", "文件名", "类别", "单位", "上传人", "上传时间", "大小(KB)", "校验码(SHA-256前16位)"),
            files,
            (1.1, 3.4, 1.8, 2.2, 2.0, 2.6, 1.5, 2.6),
        )
    else:
        _paragraph(doc, "无附件。")
    _paragraph(doc, "")
    _paragraph(
        doc,
        f"本卷宗共记录{len(d.entries)}项办理经过、{len(d.attachments)}个附件，"
        f"由督办助手于{_local(generated_at)}根据系统记录生成。",
        size=10.5,
    )
    return _bytes(doc)


# --------------------------------------------------------------------------------------------
# Loading, storing and the approval / archive hooks
# --------------------------------------------------------------------------------------------


def file_name(item: Item, kind: str) -> str:
    """``督字〔2026〕3号-督办通知单.docx`` — the name a person sees."""
    return f"{item_label(item)}-{kind}"


def document_path(files_dir: str | os.PathLike[str], item: Item, kind: str) -> Path:
    """Where an item's document is kept: ``files_dir/documents/2026/0003/督办通知单.docx``."""
    folder = f"{item.number:04d}" if item.number is not None else f"draft-{item.id}"
    return Path(files_dir) / "documents" / str(item.year or "draft") / folder / kind


async def _checked_item(session: AsyncSession, item_id: int, person: Person | None) -> Item:
    item = await load_item(session, item_id)
    if person is not None:
        me = await session.get(Person, person.id, populate_existing=True)
        if me is None or not me.active or not can_view(me, item):
            raise NotAllowed(f"您无权查看{item_label(item)}")
    return item


async def notice_document(
    session: AsyncSession,
    item_id: int,
    *,
    office_name: str,
    files_dir: str | os.PathLike[str] | None = None,
    person: Person | None = None,
) -> tuple[str, bytes]:
    """(file name, bytes) of the notice: the one stored at approval if there is one (the notice as
    issued), else built now. Only approved items have a notice."""
    item = await _checked_item(session, item_id, person)
    if item.approved_at is None:
        raise DomainError(f"{item_label(item)}尚未审批，还没有督办通知单")
    name = file_name(item, NOTICE_NAME)
    if files_dir is not None:
        stored = document_path(files_dir, item, NOTICE_NAME)
        if stored.exists():
            return name, stored.read_bytes()
    approver = await session.get(Person, item.approved_by_id) if item.approved_by_id else None
    return name, notice_docx(item, office_name=office_name, approved_by=approver.name if approver else None)


async def dossier_document(
    session: AsyncSession, item_id: int, *, office_name: str, now: datetime, person: Person | None = None
) -> tuple[str, bytes]:
    """(file name, bytes) of the dossier as it stands now."""
    d = await dossier(session, item_id, person)
    item = await load_item(session, item_id)
    return file_name(item, DOSSIER_NAME), dossier_docx(d, office_name=office_name, generated_at=now)


async def on_item_approved(
    session: AsyncSession, item_id: int, *, files_dir: str | os.PathLike[str], office_name: str
) -> Path:
    """Hook for the approval step (call after ``items.approve_item``, same session): keep the notice
    as issued. Idempotent: an existing file is kept."""
    item = await load_item(session, item_id)
    path = document_path(files_dir, item, NOTICE_NAME)
    if not path.exists():
        _, data = await notice_document(session, item_id, office_name=office_name)
        write_atomically(path, data)
    return path


async def on_item_archived(
    session: AsyncSession,
    item_id: int,
    *,
    person: Person,
    files_dir: str | os.PathLike[str],
    office_name: str,
    now: datetime,
) -> Path:
    """Hook for the archive step (call after ``items.archive_item``, same session): write the final
    dossier, make sure the notice is kept too, and queue the dossier to ``person`` (the archivist)
    as a document. A confidential item's dossier is stored but not sent."""
    item = await load_item(session, item_id)
    if item.approved_at is not None:
        await on_item_approved(session, item_id, files_dir=files_dir, office_name=office_name)
    name, data = await dossier_document(session, item_id, office_name=office_name, now=now)
    path = write_atomically(document_path(files_dir, item, DOSSIER_NAME), data)
    if not item.confidential:
        await enqueue(
            session,
            person,
            render("records/document_caption.html.j2", number=item_label(item), kind="卷宗（归档）"),
            now=now,
            kind="document",
            file_path=str(path),
            file_name=name,
            dedupe_key=f"dossier-archived:{item.id}:{person.id}",
        )
    return path
