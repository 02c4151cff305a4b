"""The workflow of a supervision item: codes, the two state machines, and what every service shares.

The services live next to this module, grouped by who uses them:

* ``bot.domain.items``       — the office registers, the office head approves, the office archives;
                               ``recompute_provisional`` for deadlines counted through an unloaded year.
* ``bot.domain.assignments`` — a unit's liaison handles its share (签收, 进展, 方案, 办结报告, 延期, 转办,
                               无法协办); the office decides extension and transfer requests.
* ``bot.domain.review``      — the office reviews completion reports; a responsible leader agrees or
                               adds an instruction (批示), which closes the item, or sends it back
                               (退回重办); 批示 on an open item is delivered to the units (issue 12).
* ``bot.domain.views``       — lists and details for the chat UI, with traffic lights.
* ``bot.domain.dossier``     — the whole record of an item, for the archive.
* ``bot.domain.actions``     — the button callback-data vocabulary.

Conventions every service follows:

* It takes the acting ``Person`` and re-reads them (and the records acted on) from the database;
  whatever the caller or a button claims, the check is made here. Refusals are ``NotAllowed``.
* It names its audit action itself (``session.info["action"]``, e.g. ``"item.approve"``) and
  flushes before returning, so every row it wrote is audited under that name and actor.
* An action that the record has already moved past (签收 twice, approving an approved item, a
  second leader answering after the first) raises ``AlreadyHandled`` and changes nothing.
* Every message goes through ``bot.outbox.queue.enqueue`` in the same transaction, rendered from
  ``templates/notices/``; for a confidential item only ``notices/confidential.html.j2`` is used.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.domain.directory import people_with_role
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.roles import ROLE_NAMES
from bot.domain.workdays import WorkCalendar
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.render import render
from bot.outbox.queue import Keyboard, enqueue
from store.audit import Actor
from store.models import Base, Person
from store.workflow import Assignment, Item, ItemLeader, Milestone, Plan

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class AlreadyHandled(DomainError):
    """The record has moved on (a repeated or stale button): nothing was changed. Answer gently."""


class InvalidState(DomainError):
    """The action does not fit the record's current state (e.g. reviewing before a report)."""


# --------------------------------------------------------------------------------------------
# Codes and their Chinese names
# --------------------------------------------------------------------------------------------

# Regulation §3: the seven kinds of work the office supervises.
SOURCES: dict[str, str] = {
    "deployment": "县政府重要工作部署",
    "project": "县政府重大项目",
    "meeting": "县政府重要会议决定事项",
    "leader": "领导批办、交办事项",
    "superior": "上级党委、政府交办事项",
    "proposal": "人大代表建议、政协委员提案",
    "other": "其他督查事项",
}
IMPORTANCE: dict[str, str] = {"normal": "一般", "important": "重要", "urgent": "紧急"}
UNIT_ROLES_OF_ASSIGNMENT: dict[str, str] = {"lead": "主办", "assist": "协办"}

ITEM_STATES: dict[str, str] = {
    "draft": "待提交",
    "pending": "待审批",
    "assigned": "已交办",
    "in_progress": "办理中",
    "reported": "办结报告待审核",
    "leader_review": "待领导审阅",
    "closed": "已办结",
    "archived": "已归档",
    "suspended": "已中止",  # issue 12: paused by the office head's decision; deadlines stop counting
    "cancelled": "已撤销",
    "deleted": "已删除",  # a draft deleted before approval (kept for the audit trail, off every list)
}
ASSIGNMENT_STATES: dict[str, str] = {
    "draft": "待交办",
    "assigned": "待签收",
    "in_progress": "办理中",
    "reported": "办结报告待审核",
    "done": "已办结",
    "declined": "无法协办",
    "transferred": "已转办",
    "suspended": "已中止",
    "cancelled": "已撤销",
    "removed": "已撤出",  # the office head took the unit off the item (issue 12)
}
# A unit still owes work in these states: they get traffic lights and reminders.
ACTIVE_ASSIGNMENT_STATES = frozenset({"assigned", "in_progress"})
# A unit is still part of the item in these states (it is told when the item closes, may see it).
LIVE_ASSIGNMENT_STATES = frozenset({"assigned", "in_progress", "reported"})
OPEN_ITEM_STATES = frozenset({"draft", "pending", "assigned", "in_progress", "reported", "leader_review", "suspended"})
REQUEST_STATES: dict[str, str] = {
    "pending": "待审批",
    "approved": "已同意",
    "rejected": "未同意",
    "cancelled": "已撤销",
}
REPORT_STATES: dict[str, str] = {"pending": "待审核", "approved": "审核通过", "returned": "退回重办"}

MAX_TITLE = 100
MAX_TEXT = 2000
MAX_DEADLINE_DAYS = 250  # about a working year; more is a typo
IMPORTANT_DEFAULT_DAYS = 7  # regulation §9(4): important items are done within 7 working days

NUMBER_PREFIX = "督字"


def local_date(now: datetime) -> date:
    """The office's calendar day at ``now`` (an aware datetime)."""
    return now.astimezone(OFFICE_TZ).date()


def format_number(year: int | None, number: int | None) -> str | None:
    """``督字〔2026〕3号``; None before approval."""
    if year is None or number is None:
        return None
    return f"{NUMBER_PREFIX}〔{year}〕{number}号"


class Numbered(Protocol):
    """An ``Item``, or a list's plain row of one (``bot.domain.views.ListedItem``)."""

    @property
    def id(self) -> int: ...
    @property
    def year(self) -> int | None: ...
    @property
    def number(self) -> int | None: ...


class Owing(Protocol):
    """An ``Assignment``, or a list's plain row of one (``bot.domain.views.ListedAssignment``)."""

    @property
    def state(self) -> str: ...
    @property
    def due_date(self) -> date | None: ...


def item_label(item: Numbered) -> str:
    """The number, or the registration id of an unnumbered draft."""
    return format_number(item.year, item.number) or f"登记号{item.id}"


# --------------------------------------------------------------------------------------------
# State machines: each transition names its source states, its target, and who may make it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    action: str  # the audit action name, e.g. "item.approve"
    sources: frozenset[str]
    target: str | None  # None: the state does not change (a record is added)
    who: str  # role code that may make it, or "system"
    label: str  # Chinese verb phrase used in refusals: "审批", "签收"


def _t(action: str, sources: str, target: str | None, who: str, label: str) -> Transition:
    return Transition(action, frozenset(sources.split()), target, who, label)


ITEM_FLOW: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("item.update", "draft", None, "office", "修改"),
        _t("item.submit", "draft", "pending", "office", "提交审批"),
        _t("item.approve", "pending", "assigned", "office_head", "审批同意"),
        _t("item.reject", "pending", "draft", "office_head", "退回立项申请"),
        # The lead unit's liaison acknowledges: the item is being handled.
        _t("assignment.acknowledge", "assigned", "in_progress", "liaison", "签收"),
        _t("report.submit", "in_progress", "reported", "liaison", "提交办结报告"),
        _t("report.approve", "reported", "leader_review", "office", "审核通过"),
        _t("report.return", "reported", "in_progress", "office", "退回重办"),
        # Transferring the lead unit starts over at "assigned" (the new unit has not acknowledged).
        _t("transfer.approve", "assigned in_progress", "assigned", "office", "转办"),
        _t("leader.agree", "leader_review", "closed", "leader", "审阅同意"),
        _t("leader.instruct", "leader_review", "closed", "leader", "批示"),
        # Issue 12: the leader sends the result back for more work (退回重办), or gives an
        # instruction while the units are still at it (批示, the item stays open).
        _t("leader.return", "leader_review", "in_progress", "leader", "退回重办"),
        _t("leader.direct", "assigned in_progress reported", None, "leader", "批示"),
        _t("item.archive", "closed", "archived", "office", "归档"),
        # Issue 12 point 6: an item the office handles itself (督查室自办, no unit) is 办理中 from
        # its approval; the office reports the result, which goes to the leader for 审阅.
        _t("item.office_start", "assigned", "in_progress", "system", "开始办理"),
        _t("item.office_report", "in_progress", "leader_review", "office", "报送办理结果"),
        # Issue 12: mistakes that can be fixed (bot.domain.changes). Withdrawing and deleting a
        # draft; changes to an approved item, proposed by the office and decided by its head.
        _t("item.withdraw", "pending", "draft", "office", "撤回"),
        _t("item.delete", "draft", "deleted", "office", "删除"),
        _t("item.change", "assigned in_progress reported", None, "office", "变更"),
        _t("item.suspend", "assigned in_progress reported", "suspended", "office", "中止"),
        _t("item.resume", "suspended", None, "office", "恢复办理"),
        _t("item.cancel", "assigned in_progress reported suspended", "cancelled", "office", "撤销"),
    )
}
ITEM_ORDER = ("draft", "pending", "assigned", "in_progress", "reported", "leader_review", "closed", "archived")

ASSIGNMENT_FLOW: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("item.approve", "draft", "assigned", "office_head", "交办"),
        _t("assignment.acknowledge", "assigned", "in_progress", "liaison", "签收"),
        _t("progress.add", "in_progress", None, "liaison", "反馈进展"),
        _t("plan.submit", "in_progress", None, "liaison", "提交工作方案"),
        _t("milestone.done", "in_progress", None, "liaison", "标记节点完成"),
        _t("extension.request", "in_progress", None, "liaison", "申请延期"),
        _t("transfer.request", "in_progress", None, "liaison", "申请转办"),
        _t("assignment.decline", "assigned in_progress", "declined", "liaison", "报告无法协办"),
        _t("report.submit", "in_progress", "reported", "liaison", "提交办结报告"),
        _t("extension.approve", "assigned in_progress", None, "office", "批准延期"),
        _t("transfer.approve", "assigned in_progress", "transferred", "office", "转办"),
        _t("report.approve", "reported", "done", "office", "审核通过"),
        _t("report.return", "reported", "in_progress", "office", "退回重办"),
        # When the item closes every unit still on it is done.
        _t("item.close", "assigned in_progress reported", "done", "system", "办结"),
        # The leader's 退回重办 reopens the lead unit, whose approved report the leader read.
        _t("leader.return", "done", "in_progress", "leader", "退回重办"),
        _t("item.suspend", "assigned in_progress", "suspended", "system", "中止"),
        _t("item.cancel", "draft assigned in_progress reported suspended", "cancelled", "system", "撤销"),
        _t("unit.remove", "assigned in_progress reported suspended", "removed", "office", "撤出"),
    )
}
ASSIGNMENT_ORDER = ("draft", "assigned", "in_progress", "reported", "done")  # declined/transferred: side exits


def _refusal(what: str, state: str, labels: dict[str, str], t: Transition, order: Sequence[str]) -> DomainError:
    """AlreadyHandled when the record has already reached or passed the transition's target on its
    main line (a repeated or stale action); InvalidState otherwise (not yet, or a side exit)."""
    now_label = labels.get(state, state)
    if t.target is not None and state in order and t.target in order and order.index(state) >= order.index(t.target):
        return AlreadyHandled(f"{what}当前为「{now_label}」，此操作已处理过，无需重复操作。")
    return InvalidState(f"{what}当前为「{now_label}」，不能{t.label}。")


def check_item(item: Item, action: str) -> Transition:
    """Refuse ``action`` unless the item's state allows it (AlreadyHandled if it has moved past)."""
    t = ITEM_FLOW[action]
    if item.state not in t.sources:
        raise _refusal(f"{item_label(item)}", item.state, ITEM_STATES, t, ITEM_ORDER)
    return t


def move_item(item: Item, action: str) -> None:
    t = check_item(item, action)
    if t.target is not None:
        item.state = t.target


def check_assignment(a: Assignment, action: str) -> Transition:
    t = ASSIGNMENT_FLOW[action]
    if a.state not in t.sources:
        raise _refusal(f"{a.unit.name}承办的{item_label(a.item)}", a.state, ASSIGNMENT_STATES, t, ASSIGNMENT_ORDER)
    return t


def move_assignment(a: Assignment, action: str) -> None:
    t = check_assignment(a, action)
    if t.target is not None:
        a.state = t.target


# --------------------------------------------------------------------------------------------
# Deadlines and traffic lights
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineSpec:
    """A deadline as the office asks for it: N working days after approval, or a date."""

    days: int | None = None
    on: date | None = None

    @classmethod
    def working_days(cls, n: int) -> DeadlineSpec:
        return cls(days=n)

    @classmethod
    def on_date(cls, d: date) -> DeadlineSpec:
        return cls(on=d)

    def validate(self, today: date) -> DeadlineSpec:
        if (self.days is None) == (self.on is None):
            raise DomainError("办结时限请填写工作日天数或具体日期（二选一）")
        if self.days is not None:
            if isinstance(self.days, bool) or not isinstance(self.days, int) or not 1 <= self.days <= MAX_DEADLINE_DAYS:
                raise DomainError(f"办结时限的工作日天数应为 1–{MAX_DEADLINE_DAYS} 的整数")
        else:
            if isinstance(self.on, datetime) or not isinstance(self.on, date):
                raise DomainError("办结日期格式不对，应为 YYYY-MM-DD")
            if self.on <= today:
                raise DomainError(f"办结日期 {self.on.isoformat()} 应晚于今天（{today.isoformat()}）")
            if (self.on - today).days > 3 * 366:
                raise DomainError(f"办结日期 {self.on.isoformat()} 太远，请检查是否写错")
        return self


@dataclass(frozen=True)
class FixedDeadline:
    due: date
    provisional: bool
    basis: date | None  # the day counted from (working-day deadlines only)
    days: int | None
    unknown_years: tuple[int, ...] = ()  # the unloaded years a provisional deadline ran through


def fix_deadline(calendar: WorkCalendar, spec: DeadlineSpec, today: date) -> FixedDeadline:
    """The due date of ``spec`` counted from ``today`` (today itself does not count)."""
    if spec.days is not None:
        d = calendar.add_working_days(today, spec.days)
        return FixedDeadline(d.due, d.provisional, today, spec.days, d.unknown_years)
    assert spec.on is not None
    return FixedDeadline(spec.on, False, None, None)


def deadline_rule(item: Item) -> str:
    """The deadline as registered: "批准后7个工作日" or "2026-04-30"."""
    if item.deadline_days:
        return f"批准后{item.deadline_days}个工作日"
    return item.deadline_date.isoformat() if item.deadline_date else "未定"


def due_text(due: date | None, provisional: bool) -> str:
    if due is None:
        return "未定"
    return f"{due.isoformat()}（暂定）" if provisional else due.isoformat()


@dataclass(frozen=True)
class Light:
    """A traffic light: 🟢 on track, 🟡 3 working days or fewer left, 🔴 overdue."""

    code: str  # green | yellow | red
    days_left: int  # working days left (0 on the due day); negative when overdue
    provisional: bool  # counted through a year whose holidays are not loaded

    @property
    def emoji(self) -> str:
        return LIGHT_EMOJI[self.code]

    @property
    def rank(self) -> int:
        return LIGHT_RANK[self.code]

    @property
    def words(self) -> str:
        """The working days left, as a list or a detail view says them ("剩3个工作日").

        Here rather than in a template macro: a list page says it for each of its items, and its
        two macro calls per item were about a third of the page's rendering (issue 11)."""
        if self.days_left > 0:
            said = f"剩{self.days_left}个工作日"
        elif self.days_left == 0:
            said = "今天到期"
        else:
            said = f"超期{-self.days_left}个工作日"
        return f"{said}（暂定）" if self.provisional else said


LIGHT_EMOJI = {"green": "🟢", "yellow": "🟡", "red": "🔴"}
LIGHT_RANK = {"green": 0, "yellow": 1, "red": 2}
YELLOW_DAYS = 3


@functools.lru_cache(maxsize=4096)
def light_for(calendar: WorkCalendar, due: date | None, today: date) -> Light | None:
    # Cached: a calendar does not change (a new schedule makes a new one) and a light is frozen;
    # every list page, digest and sweep asks again for the same few deadlines on the same day.
    if due is None:
        return None
    left = calendar.working_days_left(today, due)
    provisional = bool(calendar.unknown_years_between(today, due))
    code = "red" if left < 0 else "yellow" if left <= YELLOW_DAYS else "green"
    return Light(code, left, provisional)


def assignment_light(calendar: WorkCalendar, a: Owing, today: date) -> Light | None:
    """Only a unit that still owes work has a light; an approved extension already moved ``due_date``."""
    if a.state not in ACTIVE_ASSIGNMENT_STATES:
        return None
    return light_for(calendar, a.due_date, today)


def worst(lights: Iterable[Light | None]) -> Light | None:
    present = [light for light in lights if light is not None]
    return max(present, key=lambda x: (x.rank, -x.days_left)) if present else None


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


# Control characters other than tab and newline: Telegram's clients drop them, PostgreSQL's text
# cannot hold NUL, and nobody reads them — a tampered client's ones never reach the database.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def drop_controls(text: str) -> str:
    return _CONTROLS.sub("", text)


def clean_text(text: str | None, label: str, limit: int = MAX_TEXT) -> str:
    """Stripped text; empty or longer than ``limit`` characters → a Chinese error naming ``label``."""
    text = drop_controls(text or "").strip()
    if not text:
        raise DomainError(f"{label}不能为空")
    if len(text) > limit:
        raise DomainError(f"{label}太长：最多{limit}字，现有{len(text)}字")
    return text


def optional_text(text: str | None, label: str, limit: int = MAX_TEXT) -> str | None:
    return clean_text(text, label, limit) if text and text.strip() else None


def clean_title(title: str | None) -> str:
    """Stripped; refused when it has no letter or Chinese character at all (「。」, 「123」)."""
    text = clean_text(" ".join((title or "").split()), "事项名称", MAX_TITLE)
    if not any(ch.isalpha() for ch in text):  # CJK characters are letters to str.isalpha
        raise DomainError(f"事项名称要有文字，「{text[:20]}」不能作为事项名称，请输入如“城区主干道破损路面修复”")
    return text


def choice(value: str | None, options: dict[str, str], label: str) -> str:
    """A code from ``options``, given as the code or its Chinese name."""
    value = (value or "").strip()
    if value in options:
        return value
    for code, name in options.items():
        if value == name:
            return code
    raise DomainError(f"{label}「{value}」不在可选范围内（可选：{'、'.join(options.values())}）")


# --------------------------------------------------------------------------------------------
# Who is acting, and what they may do
# --------------------------------------------------------------------------------------------


async def act(session: AsyncSession, person: Person, action: str) -> Person:
    """Re-read the acting person from the database and name the audit action for what follows."""
    await session.flush()  # earlier changes in this session keep their own action name
    me = await session.get(Person, person.id, populate_existing=True)
    if me is None or not me.active:
        raise NotAllowed("您的账号已停用，如有疑问请联系督查室")
    session.info["actor"] = Actor(me.id, me.name)
    session.info["action"] = action
    return me


def require_role(me: Person, role: str, what: str) -> None:
    if not me.has_role(role):
        raise NotAllowed(f"只有{ROLE_NAMES[role]}才能{what}")


NO_ACCESS = "无权查看"  # all an outsider learns: not the item's number, unit or state


def require_liaison_of(me: Person, a: Assignment, what: str) -> None:
    """Only a liaison of the assignment's own unit acts for it; anyone outside the unit learns nothing."""
    if me.unit_id is None or me.unit_id != a.unit_id:
        raise NotAllowed(NO_ACCESS)
    if not me.has_role("liaison"):
        raise NotAllowed(f"只有{a.unit.name}的联络员才能{what}")


def is_responsible_leader(me: Person, item: Item) -> bool:
    return me.has_role("leader") and any(row.person_id == me.id for row in item.leader_rows)


def can_view(me: Person, item: Item) -> bool:
    """Office: every item. Leader: the items they are responsible for, once approved; the principal
    leader (主要领导, issue 12): every approved item in the county.
    Liaison and unit head: items their unit was assigned (including ones it passed on)."""
    if me.has_role("office", "office_head"):
        return True
    if item.state not in ("draft", "pending") and (is_responsible_leader(me, item) or me.is_principal_leader):
        return True
    if me.has_role("liaison", "unit_head") and me.unit_id is not None:
        return any(a.unit_id == me.unit_id and a.state != "draft" for a in item.assignments)
    return False


M = TypeVar("M", bound=Base)

# An item with everything a notice or a check reads (async sessions cannot load lazily, and
# relationships reached through a cycle, e.g. assignment → item → assignments, are not eager).
ITEM_OPTIONS = (
    selectinload(Item.assignments).selectinload(Assignment.unit),
    selectinload(Item.leader_rows).selectinload(ItemLeader.person),
    selectinload(Item.follower),
    selectinload(Item.created_by),
)


async def load(session: AsyncSession, model: type[M], record_id: int, what: str) -> M:
    """A record by id, re-read from the database."""
    q = select(model).where(model.id == record_id).execution_options(populate_existing=True)  # type: ignore[attr-defined]
    if model is Item:
        q = q.options(*ITEM_OPTIONS)
    row = await session.scalar(q)
    if row is None:
        raise DomainError(f"找不到该{what}，可能已被删除")
    return row


async def load_item(session: AsyncSession, item_id: int, lock: bool = False) -> Item:
    """The item, fully loaded; with ``lock``, locked for update (PostgreSQL) until the transaction ends.

    Every service that changes anything about an item locks the item row first and only then reads
    the records it acts on, so concurrent actions on one item queue up and see each other's results
    (a second 签收 or a second approval becomes AlreadyHandled, never a double)."""
    q = select(Item).where(Item.id == item_id).options(*ITEM_OPTIONS).execution_options(populate_existing=True)
    if lock:
        q = q.with_for_update(of=Item)
    item = await session.scalar(q)
    if item is None:
        raise DomainError("找不到该督查事项，可能已被删除")
    return item


async def locked(session: AsyncSession, model: type[M], record_id: int, what: str) -> tuple[M, Item]:
    """Lock the item a record belongs to, then read the record: ``(record, item)``."""
    if model is Item:
        item = await load_item(session, record_id, lock=True)
        return item, item  # type: ignore[return-value]
    if model is Assignment:
        q = select(Assignment.item_id).where(Assignment.id == record_id)
    elif model is Milestone:
        q = (
            select(Assignment.item_id)
            .join(Plan, Plan.assignment_id == Assignment.id)
            .join(Milestone, Milestone.plan_id == Plan.id)
            .where(Milestone.id == record_id)
        )
    else:
        q = (
            select(Assignment.item_id)
            .join(model, model.assignment_id == Assignment.id)  # type: ignore[attr-defined]
            .where(model.id == record_id)  # type: ignore[attr-defined]
        )
    item_id = await session.scalar(q) if isinstance(record_id, int) and not isinstance(record_id, bool) else None
    if item_id is None:
        raise DomainError(f"找不到该{what}，可能已被删除")
    item = await load_item(session, item_id, lock=True)
    return await load(session, model, record_id, what), item


# --------------------------------------------------------------------------------------------
# Recipients and messages
# --------------------------------------------------------------------------------------------


async def office_staff(session: AsyncSession) -> list[Person]:
    return await people_with_role(session, "office")


async def office_heads(session: AsyncSession) -> list[Person]:
    return await people_with_role(session, "office_head")


async def liaisons(session: AsyncSession, unit_id: int) -> list[Person]:
    return await people_with_role(session, "liaison", unit_id)


async def unit_heads(session: AsyncSession, unit_id: int) -> list[Person]:
    return await people_with_role(session, "unit_head", unit_id)


def item_card(item: Item) -> dict[str, Any]:
    """What a notice template may show of an item (never used for a confidential item)."""
    lead = [a for a in item.assignments if a.role == "lead" and a.state not in ("transferred",)]
    assists = [a for a in item.assignments if a.role == "assist" and a.state not in ("transferred",)]
    contact = item.created_by
    return {
        "id": item.id,
        "number": item_label(item),
        "title": item.title,
        "requirements": item.requirements,
        "source": SOURCES.get(item.source, item.source),
        "importance": IMPORTANCE.get(item.importance, item.importance),
        "urgent": item.importance == "urgent",
        "lead_units": [a.unit.name for a in lead],
        "assist_units": [a.unit.name for a in assists],
        "due": due_text(item.due_date, item.due_provisional),
        "due_provisional": item.due_provisional,
        "deadline_rule": deadline_rule(item),
        "weekly_feedback": item.weekly_feedback,
        "office_handled": item.office_handled,  # 督查室自办 (issue 12)
        "follower": item.follower.name if item.follower else None,
        "leaders": [p.name for p in item.leaders],
        "contact": contact.name if contact else None,
        "contact_phone": contact.phone if contact else None,
    }


async def notify(
    session: AsyncSession,
    person: Person,
    template: str,
    *,
    item: Item,
    now: datetime,
    label: str,
    dedupe: str | None,
    buttons: Keyboard | None = None,
    urgent: bool | None = None,
    **context: Any,
) -> None:
    """Queue one message about ``item`` for ``person``.

    ``label`` is a content-free headline (e.g. "督办通知"); it is all a confidential item's message
    says besides its number, its neutral label and "请到督查室查阅". Urgent items' messages are urgent by default.
    """
    from bot.domain.confidential import shown_label
    from bot.domain.notices import hears_about, held  # issue 13: who hears, and when

    if not hears_about(session, person, item):
        return
    if item.confidential:
        name = shown_label(item.title, True)  # the neutral label, never a title that may be content
        text = render("notices/confidential.html.j2", number=item_label(item), label=label, short=name)
    else:
        text = render(template, item=item_card(item), label=label, **context)
    urgent = item.importance == "urgent" if urgent is None else urgent
    await enqueue(
        session,
        person,
        text,
        now=now,
        buttons=buttons,
        dedupe_key=f"wf:{dedupe}:{person.id}" if dedupe else None,
        urgent=urgent,
        item_ids=[item.id],
        bundle="notice" if held(session, person, urgent) else None,
    )


async def notify_many(session: AsyncSession, people: Iterable[Person], template: str, **kwargs: Any) -> int:
    """``notify`` each person once (a person listed twice gets one message); returns how many."""
    seen: set[int] = set()
    for person in people:
        if person.id in seen:
            continue
        seen.add(person.id)
        await notify(session, person, template, **kwargs)
    return len(seen)


# --------------------------------------------------------------------------------------------
# Item numbers as people type them
# --------------------------------------------------------------------------------------------

_FULL_REF = re.compile(r"(?:督字)?\s*[〔\[（(【]\s*(\d{4})\s*[〕\]）)】]\s*第?\s*(\d{1,6})\s*号?")
_DASH_REF = re.compile(r"(\d{4})\s*[-/年]\s*第?\s*(\d{1,6})\s*号?")
_SHORT_REF = re.compile(r"(?:督字)?\s*第?\s*(\d{1,6})\s*号?")


def parse_item_ref(text: str, this_year: int) -> tuple[int, int]:
    """``"3"`` → (this_year, 3); ``"督字〔2026〕3号"``, ``"2026-3"`` → (2026, 3). DomainError otherwise."""
    s = (text or "").strip().lstrip("#＃")
    for pattern in (_FULL_REF, _DASH_REF):
        m = pattern.fullmatch(s)
        if m:
            return int(m.group(1)), int(m.group(2))
    m = _SHORT_REF.fullmatch(s)
    if m:
        return this_year, int(m.group(1))
    raise DomainError(f"编号「{s[:30]}」格式不对，请输入如“3”或“督字〔{this_year}〕3号”")
