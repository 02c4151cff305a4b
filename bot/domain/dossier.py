"""The dossier (卷宗) of an item: every record in time order, with who, when and what, and its files.

``dossier`` builds it from the item's events (``bot.domain.events``: what happened, when, by whom)
and the rows they name (what was said, the files); ``render_dossier``
renders it from ``templates/notices/dossier.html.j2``. A later issue produces Word files from the
same ``Dossier``. The dossier holds the full content, confidential or not: it is for the archive.
Rendered for the messenger, a confidential item shows only its number unless
``reveal_confidential`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.attachments import OWNER_KINDS
from bot.domain.change_log import change_entry
from bot.domain.errors import NotAllowed
from bot.domain.events import KINDS, item_events
from bot.domain.records import BULLETIN_KINDS, VISIT_OWNER_KIND, VISIT_OWNER_LABEL
from bot.domain.score import DEFAULT_RULES
from bot.domain.workflow import (
    ASSIGNMENT_STATES,
    IMPORTANCE,
    ITEM_STATES,
    NO_ACCESS,
    SOURCES,
    UNIT_ROLES_OF_ASSIGNMENT,
    can_view,
    deadline_rule,
    due_text,
    format_number,
    item_label,
    load_item,
)
from bot.kernel.render import render
from store.changes import ItemChange
from store.models import Person
from store.records import Bulletin, SupervisionRecord
from store.workflow import (
    Attachment,
    CompletionReport,
    ExtensionRequest,
    ItemApproval,
    LeaderReview,
    OfficeReport,
    Plan,
    Progress,
    Review,
    Transfer,
)

# The order of records made at the same moment (e.g. approval and its notices).
KIND_ORDER = (
    "register",
    "submit",
    "reject",
    "approve",
    "notice",
    "acknowledge",
    "plan",
    "milestone",
    "progress",
    "extension_request",
    "extension_decision",
    "transfer_request",
    "transfer_decision",
    "decline",
    "urge",
    "call",
    "call_answer",
    "visit",
    "bulletin",
    "report",
    "office_report",
    "review",
    "leader_instruction",
    "leader_return",
    "leader_review",
    "close",
    "archive",
    "withdraw",
    "delete",
    "change_request",
    "change",
)


@dataclass(frozen=True)
class DossierAttachment:
    id: int
    file_name: str
    mime_type: str | None
    size: int
    sha256: str | None
    local_path: str | None
    telegram_file_id: str | None
    owner_kind: str  # progress | plan | report | supervision
    owner_label: str  # 进展反馈 | 工作方案 | 办结报告 | 实地督查
    owner_id: int
    unit: str | None
    uploaded_by: str
    at: datetime


@dataclass(frozen=True)
class DossierShare:
    """A unit's share (分工, issue 12): its role, its own task and its deadline in force."""

    unit: str
    role: str  # 主办 | 协办
    state: str
    task: str | None  # None: the item's requirements
    due: str


@dataclass(frozen=True)
class DossierEntry:
    at: datetime
    kind: str  # one of KIND_ORDER
    label: str  # Chinese: 登记立项, 签收, 反馈进展, ...
    actor: str | None  # who did it: "张三（某某局）"
    unit: str | None  # the unit the record concerns
    text: str | None  # what was said: progress text, reason, instruction ...
    note: str | None = None  # a short extra line: new deadline, site-verification note ...
    attachments: tuple[DossierAttachment, ...] = ()


@dataclass(frozen=True)
class Dossier:
    item_id: int
    number: str | None
    label: str
    title: str
    requirements: str
    source: str
    importance: str
    confidential: bool
    state: str
    deadline_rule: str
    due: str
    lead_units: tuple[str, ...]
    assist_units: tuple[str, ...]
    leaders: tuple[str, ...]
    follower: str | None
    created_by: str
    created_at: datetime
    closed_at: datetime | None
    archived_at: datetime | None
    entries: tuple[DossierEntry, ...]
    attachments: tuple[DossierAttachment, ...]
    shares: tuple[DossierShare, ...] = ()
    office_handled: bool = False  # 督查室自办: no unit (issue 12)


async def dossier(session: AsyncSession, item_id: int, person: Person | None = None) -> Dossier:
    """The whole record of an item. With ``person``, refuses one who may not see the item."""
    item = await load_item(session, item_id)
    me = None
    if person is not None:
        me = await session.get(Person, person.id, populate_existing=True)
        if me is None or not me.active or not can_view(me, item):
            raise NotAllowed(NO_ACCESS)

    assignments = {a.id: a for a in item.assignments}
    ids = list(assignments) or [-1]

    async def rows(model, *where):  # noqa: ANN001, ANN002, ANN202
        return (await session.scalars(select(model).where(*where).order_by(model.id))).all()

    approvals = await rows(ItemApproval, ItemApproval.item_id == item.id)
    plans = await rows(Plan, Plan.assignment_id.in_(ids))
    progress = await rows(Progress, Progress.assignment_id.in_(ids))
    extensions = await rows(ExtensionRequest, ExtensionRequest.assignment_id.in_(ids))
    transfers = await rows(Transfer, Transfer.assignment_id.in_(ids))
    reports = await rows(CompletionReport, CompletionReport.assignment_id.in_(ids))
    reviews = await rows(Review, Review.report_id.in_([r.id for r in reports] or [-1]))
    leader_reviews = await rows(LeaderReview, LeaderReview.item_id == item.id)
    files = await rows(Attachment, Attachment.item_id == item.id)
    records = await rows(SupervisionRecord, SupervisionRecord.item_id == item.id)
    bulletins = await rows(Bulletin, Bulletin.item_id == item.id)
    changes = await rows(ItemChange, ItemChange.item_id == item.id)
    office_reports = await rows(OfficeReport, OfficeReport.item_id == item.id)
    # An unannounced visit (暗访) is not shown to the unit: only the office and leaders see it.
    if me is not None and not me.has_role("office", "office_head", "leader"):  # me: given a person
        hidden = {r.id for r in records if r.unannounced}
        records = [r for r in records if r.id not in hidden]
        files = [f for f in files if not (f.owner_kind == VISIT_OWNER_KIND and f.owner_id in hidden)]
    # The timeline is the item's events (bot.domain.events); the rows above hold their content.
    events = await item_events(session, item.id)
    milestones = {m.id: (m, p) for p in plans for m in p.milestones}

    person_ids = {item.created_by_id, item.archived_by_id, item.approved_by_id}
    person_ids |= {ev.actor_id for ev in events}
    person_ids |= {f.uploaded_by_id for f in files}
    person_ids.discard(None)
    people = {p.id: p for p in (await session.scalars(select(Person).where(Person.id.in_(person_ids or {-1})))).all()}

    def who(pid: int | None) -> str | None:
        p = people.get(pid) if pid is not None else None
        if p is None:
            return None
        return f"{p.name}（{p.unit.name}）" if p.unit else p.name

    def unit_of(assignment_id: int | None) -> str | None:
        a = assignments.get(assignment_id) if assignment_id is not None else None
        return a.unit.name if a else None

    attached: dict[tuple[str, int], list[DossierAttachment]] = {}
    all_files = []
    for f in files:
        d = DossierAttachment(
            id=f.id,
            file_name=f.file_name,
            mime_type=f.mime_type,
            size=f.size,
            sha256=f.sha256,
            local_path=f.local_path,
            telegram_file_id=f.telegram_file_id,
            owner_kind=f.owner_kind,
            owner_label={**OWNER_KINDS, VISIT_OWNER_KIND: VISIT_OWNER_LABEL}.get(f.owner_kind, f.owner_kind),
            owner_id=f.owner_id,
            unit=unit_of(f.assignment_id),
            uploaded_by=who(f.uploaded_by_id) or "",
            at=f.created_at,
        )
        attached.setdefault((f.owner_kind, f.owner_id), []).append(d)
        all_files.append(d)

    def files_of(kind: str, owner_id: int) -> tuple[DossierAttachment, ...]:
        return tuple(attached.get((kind, owner_id), ()))

    # The deadline a notice carried: before the first granted extension, if any.
    first_due = {}
    for x in extensions:
        if x.status == "approved" and x.assignment_id not in first_due:
            first_due[x.assignment_id] = x.old_due

    by_id = {
        "item_approvals": {r.id: r for r in approvals},
        "plans": {p.id: p for p in plans},
        "progress": {p.id: p for p in progress},
        "extension_requests": {x.id: x for x in extensions},
        "transfers": {t.id: t for t in transfers},
        "completion_reports": {r.id: r for r in reports},
        "reviews": {v.id: v for v in reviews},
        "leader_reviews": {r.id: r for r in leader_reviews},
        "supervision_records": {r.id: r for r in records},
        "bulletins": {b.id: b for b in bulletins},
        "item_changes": {c.id: c for c in changes},
        "office_reports": {r.id: r for r in office_reports},
    }
    report_unit = {r.id: unit_of(r.assignment_id) for r in reports}

    def entry(ev) -> DossierEntry | None:  # noqa: ANN001 — one case per kind
        k, at, actor = ev.kind, ev.at, who(ev.actor_id)
        if k == "milestone":
            m, p = milestones.get(ev.ref_id, (None, None))
            return m and DossierEntry(at, k, "时间节点完成", actor, unit_of(p.assignment_id), m.title)
        table = KINDS[k]
        row: Any = by_id[table].get(ev.ref_id) if table else None
        if table and row is None:
            return None  # its record is not shown to this reader (an unannounced visit)
        a: Any = assignments.get(ev.assignment_id) if ev.assignment_id is not None else None
        if k == "register":
            return DossierEntry(at, k, "登记立项", actor, None, None)
        if k == "submit":
            return DossierEntry(at, k, "提交审批", actor, None, None)
        if k in ("approve", "reject"):
            return DossierEntry(
                at,
                k,
                "审批同意" if row.approved else "退回立项申请",
                actor,
                None,
                row.reason,
                f"编号{format_number(item.year, item.number)}" if row.approved and item.number else None,
            )
        if k == "notice":
            role = UNIT_ROLES_OF_ASSIGNMENT.get(a.role, a.role)
            due = first_due.get(a.id, a.due_date)
            return DossierEntry(
                at,
                k,
                f"下发督办通知单（{role}）",
                None,
                a.unit.name,
                None,
                "；".join(
                    x
                    for x in (
                        f"分工：{a.task}" if a.task else None,
                        f"办结时限：{due_text(due, a.due_provisional and a.id not in first_due)}" if due else None,
                    )
                    if x
                )
                or None,
            )
        if k == "acknowledge":
            return DossierEntry(at, k, "签收", actor, a.unit.name, None)
        if k == "urge":
            return DossierEntry(at, k, "督查室催办", actor, a.unit.name, None)
        if k == "decline":
            return DossierEntry(at, k, "报告无法协办", None, a.unit.name, a.declined_reason)
        if k == "plan":
            steps = "；".join(f"{m.due_date.isoformat()} {m.title}" for m in row.milestones) or None
            return DossierEntry(
                at,
                k,
                "提交工作方案",
                actor,
                unit_of(row.assignment_id),
                row.text,
                f"时间节点：{steps}" if steps else None,
                files_of("plan", row.id),
            )
        if k == "progress":
            return DossierEntry(
                at,
                k,
                "反馈进展",
                actor,
                unit_of(row.assignment_id),
                row.text or None,
                None,
                files_of("progress", row.id),
            )
        if k == "extension_request":
            return DossierEntry(
                at,
                k,
                "申请延期",
                actor,
                unit_of(row.assignment_id),
                row.reason,
                f"原期限 {row.old_due.isoformat() if row.old_due else '未定'}，申请延至 {row.new_due.isoformat()}",
            )
        if k == "extension_decision":
            label = {"approved": "同意延期", "rejected": "不同意延期", "cancelled": "延期申请撤销（已转办）"}[
                row.status
            ]
            return DossierEntry(
                at,
                k,
                label,
                actor,
                unit_of(row.assignment_id),
                row.decision_note,
                f"新期限 {row.new_due.isoformat()}" if row.status == "approved" else None,
            )
        if k == "transfer_request":
            return DossierEntry(at, k, "申请转办", actor, unit_of(row.assignment_id), row.reason)
        if k == "transfer_decision":
            approved = row.status == "approved"
            return DossierEntry(
                at,
                k,
                "同意转办" if approved else "不同意转办",
                actor,
                unit_of(row.assignment_id),
                row.decision_note,
                f"转至{row.to_unit.name}" if approved and row.to_unit else None,
            )
        if k == "report":
            return DossierEntry(
                at, k, "提交办结报告", actor, unit_of(row.assignment_id), row.text, None, files_of("report", row.id)
            )
        if k == "office_report":
            return DossierEntry(
                at, k, "报送办理结果（督查室自办）", actor, None, row.text, None, files_of("office_report", row.id)
            )
        if k == "review":
            return DossierEntry(
                at,
                k,
                "审核通过" if row.approved else "退回重办",
                actor,
                report_unit.get(row.report_id),
                row.reason,
                f"现场核验：{row.site_note}" if row.site_note else None,
            )
        if k == "call":
            note = "；".join(
                x
                for x in (
                    f"通话对象：{row.contact}" if row.contact else None,
                    f"对方承诺：{row.promise}" if row.promise else None,
                    "联络员尚未确认" if row.confirmation == "pending" else None,
                )
                if x
            )
            return DossierEntry(at, k, "电话督查", actor, row.unit.name, row.summary, note or None)
        if k == "call_answer":
            disputed = row.confirmation == "disputed"
            return DossierEntry(
                at,
                k,
                "对电话督查记录有异议" if disputed else "确认电话督查记录",
                actor,
                row.unit.name,
                row.dispute if disputed else None,
            )
        if k == "visit":
            return DossierEntry(
                at,
                k,
                "实地督查（暗访）" if row.unannounced else "实地督查",
                actor,
                row.unit.name,
                row.summary,
                f"现场接待：{row.contact}" if row.contact else None,
                files_of(VISIT_OWNER_KIND, row.id),
            )
        if k == "bulletin":
            rule = DEFAULT_RULES.get(row.rule)
            return DossierEntry(
                at,
                k,
                BULLETIN_KINDS.get(row.kind, row.kind),
                actor,
                row.unit.name,
                row.text,
                f"计入考核：{rule.name}" if rule else None,
            )
        if k == "leader_review":
            return DossierEntry(
                at, k, "领导批示" if row.decision == "instruct" else "领导审阅同意", actor, None, row.instruction
            )
        if k == "leader_return":
            return DossierEntry(at, k, "领导退回重办", actor, None, row.instruction)
        if k == "leader_instruction":
            return DossierEntry(at, k, "领导批示（办理中）", actor, None, row.instruction)
        if k == "close":
            return DossierEntry(at, k, "办结", None, None, None)
        if k == "archive":
            return DossierEntry(at, k, "归档", actor, None, None)
        if k in ("withdraw", "delete", "change_request", "change"):
            if k == "delete":  # its reason is the item's change of kind "delete"
                row = next((c for c in changes if c.kind == "delete"), None)
            label, text, change_note = change_entry(k, row)
            return DossierEntry(at, k, label, actor, None, text, change_note)
        raise ValueError(f"no dossier entry for an event {k!r}")

    order = {k: i for i, k in enumerate(KIND_ORDER)}
    timeline = sorted(
        ((ev, x) for ev in events if (x := entry(ev)) is not None),
        key=lambda pair: (pair[1].at, order[pair[1].kind], pair[0].id),
    )
    e = [x for _, x in timeline]

    return Dossier(
        item_id=item.id,
        number=format_number(item.year, item.number),
        label=item_label(item),
        title=item.title,
        requirements=item.requirements,
        source=SOURCES.get(item.source, item.source),
        importance=IMPORTANCE.get(item.importance, item.importance),
        confidential=item.confidential,
        state=ITEM_STATES.get(item.state, item.state),
        deadline_rule=deadline_rule(item),
        due=due_text(*current_due(item)),
        lead_units=tuple(a.unit.name for a in assignments.values() if a.role == "lead"),
        assist_units=tuple(a.unit.name for a in assignments.values() if a.role == "assist"),
        leaders=tuple(p.name for p in item.leaders),
        follower=item.follower.name if item.follower else None,
        created_by=who(item.created_by_id) or "",
        created_at=item.created_at,
        closed_at=item.closed_at,
        archived_at=item.archived_at,
        entries=tuple(e),
        attachments=tuple(all_files),
        shares=tuple(
            DossierShare(
                a.unit.name,
                UNIT_ROLES_OF_ASSIGNMENT.get(a.role, a.role),
                ASSIGNMENT_STATES.get(a.state, a.state),
                a.task,
                due_text(a.due_date, a.due_provisional),
            )
            for a in assignments.values()
            if a.state != "transferred"
        ),
        office_handled=item.office_handled,
    )


def current_due(item: Any) -> tuple[Any, bool]:
    """The deadline in force, as ``/item`` shows it: the lead unit's (extensions and changes move
    it), else the one fixed at approval."""
    lead = next((a for a in item.assignments if a.role == "lead" and a.state != "transferred"), None)
    if lead is not None and lead.due_date is not None:
        return lead.due_date, lead.due_provisional
    return item.due_date, item.due_provisional


def render_dossier(d: Dossier, *, reveal_confidential: bool = False) -> str:
    """The dossier as Telegram HTML (autoescaped). A confidential item shows only its number unless
    ``reveal_confidential`` (for output that does not go through the messenger)."""
    return render("notices/dossier.html.j2", d=d, reveal=reveal_confidential or not d.confidential)
