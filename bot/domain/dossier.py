"""The dossier (卷宗) of an item: every record in time order, with who, when and what, and its files.

``dossier`` builds it from the rows (and, for submissions, from the audit log); ``render_dossier``
renders it from ``templates/notices/dossier.html.j2``. A later issue produces Word files from the
same ``Dossier``. The dossier holds the full content, confidential or not: it is for the archive.
Rendered for the messenger, a confidential item shows only its number unless
``reveal_confidential`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.attachments import OWNER_KINDS
from bot.domain.errors import NotAllowed
from bot.domain.records import BULLETIN_KINDS, VISIT_OWNER_KIND, VISIT_OWNER_LABEL
from bot.domain.score import DEFAULT_RULES
from bot.domain.workflow import (
    NO_ACCESS,
    IMPORTANCE,
    ITEM_STATES,
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
from store.models import AuditEntry, Person
from store.records import Bulletin, SupervisionRecord
from store.workflow import (
    Attachment,
    CompletionReport,
    ExtensionRequest,
    ItemApproval,
    LeaderReview,
    Plan,
    Progress,
    Review,
    Transfer,
)

# The order of records made at the same moment (e.g. approval and its notices).
KIND_ORDER = (
    "register", "submit", "reject", "approve", "notice", "acknowledge", "plan", "milestone", "progress",
    "extension_request", "extension_decision", "transfer_request", "transfer_decision", "decline",
    "call", "call_answer", "visit", "bulletin", "report", "review", "leader_review", "close", "archive",
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


async def dossier(session: AsyncSession, item_id: int, person: Person | None = None) -> Dossier:
    """The whole record of an item. With ``person``, refuses one who may not see the item."""
    item = await load_item(session, item_id)
    if person is not None:
        me = await session.get(Person, person.id, populate_existing=True)
        if me is None or not me.active or not can_view(me, item):
            raise NotAllowed(NO_ACCESS)

    assignments = {a.id: a for a in item.assignments}
    ids = list(assignments) or [-1]

    async def rows(model, *where):  # noqa: ANN001, ANN202
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
    # An unannounced visit (暗访) is not shown to the unit: only the office and leaders see it.
    if person is not None and not me.has_role("office", "office_head", "leader"):
        hidden = {r.id for r in records if r.unannounced}
        records = [r for r in records if r.id not in hidden]
        files = [f for f in files if not (f.owner_kind == VISIT_OWNER_KIND and f.owner_id in hidden)]
    submissions = (await session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "items", AuditEntry.entity_id == str(item.id),
                                 AuditEntry.action == "item.submit").order_by(AuditEntry.id)
    )).all()

    person_ids = {item.created_by_id, item.archived_by_id, item.approved_by_id}
    person_ids |= {a.acknowledged_by_id for a in assignments.values()}
    person_ids |= {r.decided_by_id for r in approvals} | {p.created_by_id for p in plans}
    person_ids |= {m.done_by_id for p in plans for m in p.milestones}
    person_ids |= {p.created_by_id for p in progress} | {r.created_by_id for r in reports}
    person_ids |= {x.requested_by_id for x in [*extensions, *transfers]} | {x.decided_by_id for x in [*extensions, *transfers]}
    person_ids |= {r.reviewed_by_id for r in reviews} | {r.leader_id for r in leader_reviews}
    person_ids |= {f.uploaded_by_id for f in files} | {s.actor_id for s in submissions}
    person_ids |= {r.recorded_by_id for r in records} | {r.confirmed_by_id for r in records}
    person_ids |= {b.issued_by_id for b in bulletins}
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
            id=f.id, file_name=f.file_name, mime_type=f.mime_type, size=f.size, sha256=f.sha256,
            local_path=f.local_path, telegram_file_id=f.telegram_file_id, owner_kind=f.owner_kind,
            owner_label={**OWNER_KINDS, VISIT_OWNER_KIND: VISIT_OWNER_LABEL}.get(f.owner_kind, f.owner_kind),
            owner_id=f.owner_id,
            unit=unit_of(f.assignment_id), uploaded_by=who(f.uploaded_by_id) or "", at=f.created_at,
        )
        attached.setdefault((f.owner_kind, f.owner_id), []).append(d)
        all_files.append(d)

    def files_of(kind: str, owner_id: int) -> tuple[DossierAttachment, ...]:
        return tuple(attached.get((kind, owner_id), ()))

    e: list[DossierEntry] = [DossierEntry(item.created_at, "register", "登记立项", who(item.created_by_id), None, None)]
    e += [DossierEntry(s.at, "submit", "提交审批", who(s.actor_id) or s.actor_label, None, None)
          for s in submissions if (s.after or {}).get("state") == "pending"]
    for r in approvals:
        e.append(DossierEntry(r.decided_at, "approve" if r.approved else "reject",
                              "审批同意" if r.approved else "退回立项申请", who(r.decided_by_id), None, r.reason,
                              f"编号{format_number(item.year, item.number)}" if r.approved and item.number else None))
    # The deadline a notice carried: before the first granted extension, if any.
    first_due = {}
    for x in extensions:
        if x.status == "approved" and x.assignment_id not in first_due:
            first_due[x.assignment_id] = x.old_due
    for a in assignments.values():
        role = UNIT_ROLES_OF_ASSIGNMENT.get(a.role, a.role)
        if a.notified_at:
            due = first_due.get(a.id, a.due_date)
            e.append(DossierEntry(a.notified_at, "notice", f"下发督办通知单（{role}）", None, a.unit.name, None,
                                  f"办结时限：{due_text(due, a.due_provisional and a.id not in first_due)}"
                                  if due else None))
        if a.acknowledged_at:
            e.append(DossierEntry(a.acknowledged_at, "acknowledge", "签收", who(a.acknowledged_by_id), a.unit.name, None))
        if a.declined_at:
            e.append(DossierEntry(a.declined_at, "decline", "报告无法协办", None, a.unit.name, a.declined_reason))
    for p in plans:
        steps = "；".join(f"{m.due_date.isoformat()} {m.title}" for m in p.milestones) or None
        e.append(DossierEntry(p.created_at, "plan", "提交工作方案", who(p.created_by_id), unit_of(p.assignment_id),
                              p.text, f"时间节点：{steps}" if steps else None, files_of("plan", p.id)))
        for m in p.milestones:
            if m.done_at:
                e.append(DossierEntry(m.done_at, "milestone", "时间节点完成", who(m.done_by_id),
                                      unit_of(p.assignment_id), m.title))
    for p in progress:
        e.append(DossierEntry(p.created_at, "progress", "反馈进展", who(p.created_by_id), unit_of(p.assignment_id),
                              p.text or None, None, files_of("progress", p.id)))
    for x in extensions:
        e.append(DossierEntry(x.requested_at, "extension_request", "申请延期", who(x.requested_by_id),
                              unit_of(x.assignment_id), x.reason,
                              f"原期限 {x.old_due.isoformat() if x.old_due else '未定'}，申请延至 {x.new_due.isoformat()}"))
        if x.decided_at:
            label = {"approved": "同意延期", "rejected": "不同意延期", "cancelled": "延期申请撤销（已转办）"}[x.status]
            e.append(DossierEntry(x.decided_at, "extension_decision", label, who(x.decided_by_id),
                                  unit_of(x.assignment_id), x.decision_note,
                                  f"新期限 {x.new_due.isoformat()}" if x.status == "approved" else None))
    for t in transfers:
        e.append(DossierEntry(t.requested_at, "transfer_request", "申请转办", who(t.requested_by_id),
                              unit_of(t.assignment_id), t.reason))
        if t.decided_at:
            approved = t.status == "approved"
            e.append(DossierEntry(t.decided_at, "transfer_decision", "同意转办" if approved else "不同意转办",
                                  who(t.decided_by_id), unit_of(t.assignment_id), t.decision_note,
                                  f"转至{t.to_unit.name}" if approved and t.to_unit else None))
    for r in reports:
        e.append(DossierEntry(r.created_at, "report", "提交办结报告", who(r.created_by_id), unit_of(r.assignment_id),
                              r.text, None, files_of("report", r.id)))
    report_unit = {r.id: unit_of(r.assignment_id) for r in reports}
    for v in reviews:
        e.append(DossierEntry(v.reviewed_at, "review", "审核通过" if v.approved else "退回重办", who(v.reviewed_by_id),
                              report_unit.get(v.report_id), v.reason,
                              f"现场核验：{v.site_note}" if v.site_note else None))
    for r in records:
        if r.form == "phone":
            note = "；".join(x for x in (f"通话对象：{r.contact}" if r.contact else None,
                                        f"对方承诺：{r.promise}" if r.promise else None,
                                        "联络员尚未确认" if r.confirmation == "pending" else None) if x)
            e.append(DossierEntry(r.occurred_at, "call", "电话督查", who(r.recorded_by_id), r.unit.name, r.summary,
                                  note or None))
            if r.confirmed_at:
                disputed = r.confirmation == "disputed"
                e.append(DossierEntry(r.confirmed_at, "call_answer", "对电话督查记录有异议" if disputed else "确认电话督查记录",
                                      who(r.confirmed_by_id), r.unit.name, r.dispute if disputed else None))
        else:
            e.append(DossierEntry(r.occurred_at, "visit", "实地督查（暗访）" if r.unannounced else "实地督查",
                                  who(r.recorded_by_id), r.unit.name, r.summary,
                                  f"现场接待：{r.contact}" if r.contact else None, files_of(VISIT_OWNER_KIND, r.id)))
    for b in bulletins:
        rule = DEFAULT_RULES.get(b.rule)
        e.append(DossierEntry(b.issued_at, "bulletin", BULLETIN_KINDS.get(b.kind, b.kind), who(b.issued_by_id),
                              b.unit.name, b.text, f"计入考核：{rule.name}" if rule else None))
    for lr in leader_reviews:
        e.append(DossierEntry(lr.created_at, "leader_review", "领导批示" if lr.decision == "instruct" else "领导审阅同意",
                              who(lr.leader_id), None, lr.instruction))
    if item.closed_at:
        e.append(DossierEntry(item.closed_at, "close", "办结", None, None, None))
    if item.archived_at:
        e.append(DossierEntry(item.archived_at, "archive", "归档", who(item.archived_by_id), None, None))
    e.sort(key=lambda x: (x.at, KIND_ORDER.index(x.kind)))

    return Dossier(
        item_id=item.id, number=format_number(item.year, item.number), label=item_label(item),
        title=item.title, requirements=item.requirements, source=SOURCES.get(item.source, item.source),
        importance=IMPORTANCE.get(item.importance, item.importance), confidential=item.confidential,
        state=ITEM_STATES.get(item.state, item.state),
        deadline_rule=deadline_rule(item),
        due=due_text(item.due_date, item.due_provisional),
        lead_units=tuple(a.unit.name for a in assignments.values() if a.role == "lead"),
        assist_units=tuple(a.unit.name for a in assignments.values() if a.role == "assist"),
        leaders=tuple(p.name for p in item.leaders), follower=item.follower.name if item.follower else None,
        created_by=who(item.created_by_id) or "", created_at=item.created_at, closed_at=item.closed_at,
        archived_at=item.archived_at, entries=tuple(e), attachments=tuple(all_files),
    )


def render_dossier(d: Dossier, *, reveal_confidential: bool = False) -> str:
    """The dossier as Telegram HTML (autoescaped). A confidential item shows only its number unless
    ``reveal_confidential`` (for output that does not go through the messenger)."""
    return render("notices/dossier.html.j2", d=d, reveal=reveal_confidential or not d.confidential)
