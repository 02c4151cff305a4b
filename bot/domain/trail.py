"""The audit trail of one item, for the office head (``/audit N``): who changed what, and when.

Read from ``audit_log`` (``store.audit``): every row the item's records had written — the item,
its units' assignments, leaders, approvals, plans and milestones, progress, reports and reviews,
extension and transfer requests, supervision records, bulletins, files, score entries — with
each changed column under a Chinese name and its value made readable (names for people and
units, Chinese for codes, local times). This is accountability, not the story: the story is the
dossier (``bot.domain.dossier``, from ``item_events``). A confidential item shows who changed
which field when, never the values (they would travel through the messenger).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import NotAllowed
from bot.domain.views import find_item
from bot.domain.workflow import (
    ASSIGNMENT_STATES,
    IMPORTANCE,
    ITEM_STATES,
    SOURCES,
    UNIT_ROLES_OF_ASSIGNMENT,
    act,
    item_label,
)
from bot.kernel.clock import OFFICE_TZ
from store.models import AuditEntry, Person, Unit
from store.records import Bulletin, SupervisionRecord
from store.score import ScoreEvent
from store.urging import FeedbackWeek
from store.workflow import (
    Attachment,
    CompletionReport,
    ExtensionRequest,
    ItemApproval,
    LeaderReview,
    Milestone,
    Plan,
    Progress,
    Review,
    Transfer,
)

REFUSAL = "只有督查室负责人才能查看事项的变更记录"

ACTIONS = {
    "item.register": "登记立项",
    "item.update": "修改立项内容",
    "item.submit": "提交审批",
    "item.approve": "审批同意",
    "item.reject": "退回立项申请",
    "item.archive": "归档",
    "item.urge": "催办",
    "assignment.acknowledge": "签收",
    "progress.add": "反馈进展",
    "progress.attach": "补充进展附件",
    "plan.submit": "提交工作方案",
    "milestone.done": "时间节点完成",
    "report.submit": "提交办结报告",
    "report.approve": "审核通过",
    "report.return": "退回重办",
    "extension.request": "申请延期",
    "extension.approve": "同意延期",
    "extension.reject": "不同意延期",
    "transfer.request": "申请转办",
    "transfer.approve": "同意转办",
    "transfer.reject": "不同意转办",
    "assignment.decline": "报告无法协办",
    "leader.agree": "领导审阅同意",
    "leader.instruct": "领导批示",
    "record.call": "记录电话督查",
    "record.confirm": "确认电话督查记录",
    "record.dispute": "对电话督查记录提出异议",
    "record.visit": "记录实地督查",
    "bulletin.issue": "发布通报",
    "deadline.recompute": "重算暂定期限",
    "score.add": "考核加减分",
    "score.approve": "确认考核记分",
    "score.reverse": "撤销考核记分",
    "person.liaison_handover": "移交联络员",
}

RECORDS = {
    "items": "事项",
    "assignments": "承办任务",
    "item_leaders": "责任领导",
    "item_approvals": "立项审批",
    "plans": "工作方案",
    "milestones": "时间节点",
    "progress": "进展反馈",
    "completion_reports": "办结报告",
    "reviews": "审核意见",
    "extension_requests": "延期申请",
    "transfers": "转办申请",
    "leader_reviews": "领导审阅",
    "supervision_records": "督查记录",
    "bulletins": "通报",
    "attachments": "附件",
    "score_events": "考核记分",
    "feedback_weeks": "每周反馈",
}

# Column → Chinese. Columns not named here are technical (ids, hashes, cached sort keys): not shown.
FIELDS = {
    "title": "事项名称",
    "requirements": "工作要求",
    "source": "来源",
    "importance": "重要程度",
    "confidential": "涉密",
    "weekly_feedback": "每周反馈",
    "deadline_days": "办结时限（工作日）",
    "deadline_date": "办结日期",
    "due_date": "办结期限",
    "due_provisional": "期限暂定",
    "state": "状态",
    "follower_id": "专人跟踪",
    "created_by_id": "填报人",
    "submission_count": "提交次数",
    "submitted_at": "提交时间",
    "year": "年份",
    "number": "编号",
    "approved_at": "审批时间",
    "approved_by_id": "审批人",
    "closed_at": "办结时间",
    "archived_at": "归档时间",
    "archived_by_id": "归档人",
    "unit_id": "单位",
    "role": "承办方式",
    "notified_at": "通知时间",
    "acknowledged_at": "签收时间",
    "acknowledged_by_id": "签收人",
    "extension_count": "延期次数",
    "redo_count": "退回重办次数",
    "declined_at": "无法协办时间",
    "declined_reason": "无法协办理由",
    "transferred_at": "转办时间",
    "done_at": "完成时间",
    "person_id": "人员",
    "approved": "同意",
    "reason": "理由",
    "decided_by_id": "决定人",
    "decided_at": "决定时间",
    "text": "内容",
    "status": "状态",
    "old_due": "原期限",
    "new_due": "新期限",
    "requested_by_id": "申请人",
    "requested_at": "申请时间",
    "decision_note": "意见",
    "to_unit_id": "转至单位",
    "site_note": "现场核验",
    "reviewed_by_id": "审核人",
    "reviewed_at": "审核时间",
    "leader_id": "领导",
    "decision": "审阅结果",
    "instruction": "批示内容",
    "done_by_id": "完成人",
    "file_name": "文件名",
    "uploaded_by_id": "上传人",
    "form": "督查方式",
    "unannounced": "暗访",
    "contact": "联系人",
    "occurred_at": "督查时间",
    "summary": "督查情况",
    "promise": "承诺",
    "recorded_by_id": "记录人",
    "confirmation": "确认情况",
    "confirmed_by_id": "确认人",
    "confirmed_at": "确认时间",
    "dispute": "异议",
    "kind": "类型",
    "rule": "考核规则",
    "rule_code": "考核规则",
    "points": "分值",
    "issued_by_id": "发布人",
    "issued_at": "发布时间",
    "week_start": "周次",
    "closed": "已关闭",
}

_CODES: dict[str, dict[str, str]] = {
    "source": SOURCES,
    "importance": IMPORTANCE,
    "role": UNIT_ROLES_OF_ASSIGNMENT,
    "decision": {"agree": "同意", "instruct": "批示"},
    "form": {"phone": "电话督查", "onsite": "实地督查"},
    "confirmation": {"pending": "待确认", "confirmed": "已确认", "disputed": "有异议", "none": "无需确认"},
    "kind": {"criticism": "通报批评", "commendation": "通报表扬"},
}
_STATES = {
    "items": ITEM_STATES,
    "assignments": ASSIGNMENT_STATES,
    "completion_reports": {"pending": "待审核", "approved": "已通过", "returned": "已退回"},
    "extension_requests": {"pending": "待审批", "approved": "已同意", "rejected": "不同意", "cancelled": "已撤销"},
    "transfers": {"pending": "待处理", "approved": "已同意", "rejected": "不同意"},
    "feedback_weeks": {"open": "待反馈", "received": "已反馈", "missed": "未反馈"},
}
MAX_VALUE = 80  # characters of a value shown; the dossier has the whole text
HIDDEN = "（保密）"


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class TrailEntry:
    at: dt.datetime
    who: str
    action: str  # 登记立项, 签收 … (the code itself for an action without a name)
    record: str  # 事项, 承办任务（城关镇）, 进展反馈 …
    verb: str  # 新建 | 修改 | 删除
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Trail:
    item_id: int
    label: str
    confidential: bool
    entries: tuple[TrailEntry, ...]


async def _ids(session: AsyncSession, column, values: Iterable[int]) -> list[int]:  # noqa: ANN001
    values = list(values)
    if not values:
        return []
    return list((await session.scalars(select(column.class_.id).where(column.in_(values)))).all())


async def _targets(session: AsyncSession, item_id: int, assignment_ids: list[int]) -> dict[str, list[str]]:
    """Every record of the item, as the audit log names them: table → primary keys."""
    one = [item_id]
    plans = await _ids(session, Plan.assignment_id, assignment_ids)
    reports = await _ids(session, CompletionReport.assignment_id, assignment_ids)
    ids = {
        "items": one,
        "assignments": assignment_ids,
        "item_approvals": await _ids(session, ItemApproval.item_id, one),
        "plans": plans,
        "milestones": await _ids(session, Milestone.plan_id, plans),
        "progress": await _ids(session, Progress.assignment_id, assignment_ids),
        "completion_reports": reports,
        "reviews": await _ids(session, Review.report_id, reports),
        "extension_requests": await _ids(session, ExtensionRequest.assignment_id, assignment_ids),
        "transfers": await _ids(session, Transfer.assignment_id, assignment_ids),
        "leader_reviews": await _ids(session, LeaderReview.item_id, one),
        "supervision_records": await _ids(session, SupervisionRecord.item_id, one),
        "bulletins": await _ids(session, Bulletin.item_id, one),
        "attachments": await _ids(session, Attachment.item_id, one),
        "score_events": await _ids(session, ScoreEvent.item_id, one),
        "feedback_weeks": await _ids(session, FeedbackWeek.assignment_id, assignment_ids),
    }
    return {table: [str(i) for i in values] for table, values in ids.items() if values}


async def _rows(session: AsyncSession, item_id: int, assignment_ids: list[int]) -> list[AuditEntry]:
    targets = await _targets(session, item_id, assignment_ids)
    where = [(AuditEntry.entity == table) & AuditEntry.entity_id.in_(keys) for table, keys in targets.items()]
    where.append((AuditEntry.entity == "item_leaders") & AuditEntry.entity_id.like(f"{item_id}/%"))
    rows = list((await session.scalars(select(AuditEntry).where(or_(*where)).order_by(AuditEntry.id))).all())
    # A unit taken off a draft: its assignment row is gone, only its audit rows remember it.
    removed = (
        await session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "assignments",
                AuditEntry.action == "item.update",
                AuditEntry.entity_id.not_in([str(a) for a in assignment_ids] or ["-"]),
            )
        )
    ).all()
    rows += [r for r in removed if (r.before or {}).get("item_id") == item_id]
    return sorted(rows, key=lambda r: r.id)


def _local(value: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")


class _Names:
    """People and units named by the rows, read once."""

    def __init__(self, people: dict[int, Person], units: dict[int, str]) -> None:
        self.people, self.units = people, units

    def person(self, pid: Any) -> str:
        p = self.people.get(pid) if isinstance(pid, int) else None
        if p is None:
            return f"#{pid}"
        return f"{p.name}（{p.unit.name}）" if p.unit else p.name

    def value(self, table: str, field: str, value: Any) -> str:
        if value is None or value == "":
            return "（空）"
        if isinstance(value, bool):
            return "是" if value else "否"
        if field == "state" or field == "status":
            return _STATES.get(table, {}).get(value, str(value))
        if field in _CODES:
            return _CODES[field].get(value, str(value))
        if field.endswith("_by_id") or field in ("person_id", "leader_id", "follower_id"):
            return self.person(value)
        if field in ("unit_id", "to_unit_id"):
            return self.units.get(value, f"#{value}")
        if field.endswith("_at") and isinstance(value, str):
            return _local(value)
        text = " ".join(str(value).split())
        return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def who(row: AuditEntry, names: _Names) -> str:
    if row.actor_id is not None:
        return names.person(row.actor_id)
    label = row.actor_label or "system"
    if label.startswith("sweep:"):
        return "系统（定时任务）"
    return {"system": "系统", "cli": "命令行", "import": "导入"}.get(label, label)


async def item_trail(session: AsyncSession, person: Person, item_ref: str | int, *, now: dt.datetime) -> Trail:
    """The trail of the item ``item_ref`` (an id, or a number as ``/item`` takes it), for the office head."""
    me = await act(session, person, "view.audit")
    if not me.has_role("office_head"):
        raise NotAllowed(REFUSAL)
    item = await find_item(session, item_ref, now)
    units = {a.id: a.unit.name for a in item.assignments}
    rows = await _rows(session, item.id, list(units))
    person_ids: set[Any] = {r.actor_id for r in rows}
    unit_ids: set[Any] = set()
    for r in rows:
        for values in (r.before or {}, r.after or {}):
            person_ids |= {
                v for k, v in values.items() if k.endswith("_by_id") or k in ("person_id", "leader_id", "follower_id")
            }
            unit_ids |= {v for k, v in values.items() if k in ("unit_id", "to_unit_id")}
    people = {
        p.id: p
        for p in (
            await session.scalars(
                select(Person).where(Person.id.in_([i for i in person_ids if isinstance(i, int)] or [-1]))
            )
        ).all()
    }
    unit_names = dict(
        (
            await session.execute(
                select(Unit.id, Unit.name).where(Unit.id.in_([i for i in unit_ids if isinstance(i, int)] or [-1]))
            )
        ).all()
    )
    names = _Names(people, unit_names)

    entries = []
    for r in rows:
        before, after = r.before or {}, r.after or {}
        verb = "新建" if not before else "删除" if not after else "修改"
        record = RECORDS.get(r.entity, r.entity)
        if r.entity == "assignments":
            unit = units.get(int(r.entity_id)) or names.units.get(int((before or after).get("unit_id") or 0))
            record = f"{record}（{unit}）" if unit else record
        changes = []
        for field in after if after else before:
            if field not in FIELDS or (verb != "修改" and (after or before).get(field) in (None, "")):
                continue  # technical, or a new or deleted record's empty field
            old = names.value(r.entity, field, before.get(field)) if before else ""
            new = names.value(r.entity, field, after.get(field)) if after else ""
            if item.confidential:
                old, new = (HIDDEN if old else ""), (HIDDEN if new else "")
            changes.append(Change(FIELDS[field], old, new))
        action = ACTIONS.get(r.action) or ("定时任务" if r.action.startswith("sweep.") else r.action)
        entries.append(TrailEntry(r.at, who(r, names), action, record, verb, tuple(changes)))
    return Trail(item.id, item_label(item), item.confidential, tuple(entries))
