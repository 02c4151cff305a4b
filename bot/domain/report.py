"""The upward report (督查工作情况报告) for the county government: its figures and its approval.

Regulation §7(一): the county government's office "向县政府报告政务督查工作情况"; §5(六): results
the office has checked go up for the leaders' reading. Once a month (the first working day, for
the month before; ``bot.documents.report.monthly_report_sweep``) and whenever office staff ask
(``/report 2026-11``) a report is built from the data:

* totals — items registered (立项) and closed (办结) in the month and in the year so far, items
  still being handled at the month's end, by source (§3's seven kinds);
* on-time rate — of the units' shares (承办) finished in the month, how many by their deadline
  (finished = the day the completion report that was approved, or awaits review, was sent:
  ``bot.domain.score.finished_dates``, the same reading the score uses); per unit too;
* overdue shares (超期) at the month's end with their reason as recorded — a pending extension
  request, else the unit's latest progress report, else that nothing was reported — and shares
  finished late in the month;
* bulletins (通报) issued in the month; phone and on-site supervision records;
* the year's scores so far (``bot.domain.ledger.score_table``).

The report goes to the office head (同意报送 / 退回 with a reason) and, once approved, to every
county leader, as a Word document (``bot.documents.report`` builds it; nothing here knows docx or
telegram). A confidential item appears by its number only.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.directory import people_with_role
from bot.domain.errors import DomainError
from bot.domain.ledger import score_table
from bot.domain.score import finished_dates
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    SOURCES,
    UNIT_ROLES_OF_ASSIGNMENT,
    AlreadyHandled,
    act,
    clean_text,
    format_number,
    item_label,
    local_date,
    office_heads,
    office_staff,
    require_role,
)
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.render import render
from bot.outbox.queue import Button, enqueue
from store.models import Person, Unit
from store.records import Bulletin, SupervisionRecord
from store.report import UpwardReport
from store.workflow import Assignment, ExtensionRequest, Item, Progress

# A unit's share that counts: not passed on (转办) and not declined (无法协办).
COUNTED_STATES = ("assigned", "in_progress", "reported", "done")
OPEN_SHARE_STATES = ("assigned", "in_progress", "reported")
REPORT_ROLES = ("office", "office_head")  # who may ask for a report (/report)
STATES = {"pending": "待审核", "approved": "已同意报送", "returned": "已退回", "superseded": "已被新版本取代"}
CONFIDENTIAL = "涉密事项"
REASON_LIMIT = 120  # characters of a progress report quoted as the reason
# Shares listed by name (the longest-overdue first); the rest are counted. A report for the county
# government reads the worst cases, and a city's 60,000 overdue lines must not be held in memory.
LISTED = 200
EARLIEST_YEAR = 2000

_PERIOD_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?")
_PERIOD_MONTH = re.compile(r"(\d{1,2})\s*月?")

# Callback data of the report's buttons: 同意报送, 退回, and "build this month" (YYYYMM).
APPROVE = "rp:ok"
RETURN = "rp:no"
BUILD = "rp:mk"


@dataclass(frozen=True)
class Period:
    """A calendar month."""

    year: int
    month: int

    @property
    def key(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return self.next().first - timedelta(days=1)

    def next(self) -> Period:
        return Period(self.year + (self.month == 12), self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)


def parse_period(text: str | None, today: date) -> Period:
    """``2026-11``, ``2026年11月``, ``202611`` or ``11月`` (the latest such month not in the future).
    A month that has not begun is refused; the current month is reported as far as it went."""
    s = (text or "").strip()
    current = Period.of(today)
    m = _PERIOD_FULL.fullmatch(s) or (re.fullmatch(r"(\d{4})(\d{2})", s))
    if m:
        year, month = int(m.group(1)), int(m.group(2))
    elif (m := _PERIOD_MONTH.fullmatch(s)) is not None:
        month = int(m.group(1))
        year = today.year if month <= today.month else today.year - 1
    else:
        raise DomainError(f"月份「{s[:20]}」看不懂，请按“2026-11”或“2026年11月”的格式输入")
    if not 1 <= month <= 12:
        raise DomainError(f"月份「{s[:20]}」不存在，月份应在 1–12 之间")
    period = Period(year, month)
    if (year, month) > (current.year, current.month):
        raise DomainError(f"{period.label}还没有开始，只能生成{current.label}及以前的报告")
    if year < EARLIEST_YEAR:
        raise DomainError(f"{period.label}太早了，请检查年份")
    return period


def recent_periods(today: date, count: int = 6) -> list[Period]:
    """The month buttons: last month first (the usual report), then this month, then earlier ones."""
    current = Period.of(today)
    periods = [current.previous(), current]
    earlier = current.previous()
    while len(periods) < count:
        earlier = earlier.previous()
        periods.append(earlier)
    return periods


def first_working_day(calendar: WorkCalendar, period: Period) -> date:
    """The month's first working day (a year nobody loaded counts weekends only)."""
    day = period.first
    while not calendar.is_working_day(day, provisional=True):
        day += timedelta(days=1)
    return day


# --------------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    finished: int
    on_time: int

    @property
    def percent(self) -> str:
        """``"87.5%"``, or ``"—"`` when nothing was finished."""
        if not self.finished:
            return "—"
        return f"{self.on_time * 100 / self.finished:.1f}".rstrip("0").rstrip(".") + "%"


@dataclass(frozen=True)
class SourceLine:
    source: str
    new: int
    closed: int
    open: int


@dataclass(frozen=True)
class UnitLine:
    unit: str
    finished: int
    on_time: int
    overdue: int  # shares overdue at the month's end

    @property
    def rate(self) -> str:
        return Rate(self.finished, self.on_time).percent


@dataclass(frozen=True)
class OverdueLine:
    label: str
    title: str  # CONFIDENTIAL for a confidential item
    unit: str
    role: str
    due: date
    days_over: int  # working days past the deadline (at the month's end, or when finished)
    finished: date | None
    reason: str


@dataclass(frozen=True)
class BulletinLine:
    day: date
    kind: str
    unit: str
    label: str
    text: str


@dataclass(frozen=True)
class ScoreLine:
    rank: int
    unit: str
    score: str
    bonus: int
    deduction: int
    disqualified: bool


@dataclass(frozen=True)
class ReportData:
    period: Period
    as_of: date  # the month's last day, or today while the month is still running
    generated_at: datetime
    new_items: int
    closed_items: int
    open_items: int
    year_new: int
    year_closed: int
    by_source: list[SourceLine]
    month_rate: Rate
    year_rate: Rate
    units: list[UnitLine]
    overdue: list[OverdueLine]  # the LISTED longest overdue; overdue_count counts them all
    late_finished: list[OverdueLine]  # the first LISTED; late_count counts them all
    bulletins: list[BulletinLine]
    phone_records: int
    onsite_records: int
    unannounced: int
    scores: list[ScoreLine]
    score_average: str | None
    scores_frozen: bool
    overdue_count: int = 0
    late_count: int = 0
    provisional: bool = False  # some working days counted through a year nobody loaded
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.as_of >= self.period.last

    def summary(self) -> dict[str, Any]:
        """The figures for the record (``UpwardReport.summary``) and the chat's caption."""
        return {
            "period": self.period.key,
            "as_of": self.as_of.isoformat(),
            "new_items": self.new_items,
            "closed_items": self.closed_items,
            "open_items": self.open_items,
            "year_new": self.year_new,
            "year_closed": self.year_closed,
            "finished": self.month_rate.finished,
            "on_time": self.month_rate.on_time,
            "on_time_rate": self.month_rate.percent,
            "year_on_time_rate": self.year_rate.percent,
            "overdue": self.overdue_count,
            "late_finished": self.late_count,
            "bulletins": len(self.bulletins),
            "phone_records": self.phone_records,
            "onsite_records": self.onsite_records,
            "by_source": [asdict(s) for s in self.by_source],
        }


def _start(day: date) -> datetime:
    """Midnight in Beijing, as UTC: the database's datetimes are UTC, and comparing within one
    zone skips a time-zone lookup per comparison (tens of thousands per report)."""
    return datetime(day.year, day.month, day.day, tzinfo=OFFICE_TZ).astimezone(UTC)


def _short(text: str, limit: int = REASON_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _totals(session: AsyncSession, period: Period) -> tuple[int, int, int, int, int, list[SourceLine]]:
    """Items approved before the month ended, counted in the database per source: new this month,
    new this year, closed this month, closed this year (to the month's end), open at its end."""
    start, end, jan1 = _start(period.first), _start(period.next().first), _start(date(period.year, 1, 1))
    approved, closed_at = Item.approved_at, Item.closed_at

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = (
        await session.execute(
            select(
                Item.source,
                count(approved >= start),
                count(approved >= jan1),
                count(and_(closed_at >= start, closed_at < end)),
                count(and_(closed_at >= jan1, closed_at < end)),
                count(or_(closed_at.is_(None), closed_at >= end)),
            )
            .where(approved.is_not(None), approved < end)
            .group_by(Item.source)
        )
    ).all()
    by: dict[str, list[int]] = {code: [0, 0, 0] for code in SOURCES}
    new = closed = still_open = year_new = year_closed = 0
    for source, n_new, n_year_new, n_closed, n_year_closed, n_open in rows:
        by[source] = [int(n_new), int(n_closed), int(n_open)]
        new, year_new, closed = new + n_new, year_new + n_year_new, closed + n_closed
        year_closed, still_open = year_closed + n_year_closed, still_open + n_open
    lines = [SourceLine(SOURCES.get(code, code), *counts) for code, counts in by.items()]
    return int(new), int(closed), int(still_open), int(year_new), int(year_closed), lines


@dataclass(frozen=True, slots=True)
class _Share:
    """What the report reads of a unit's share: plain columns, no ORM graph (a city has 100,000s)."""

    id: int
    item_id: int
    role: str
    state: str
    due_date: date
    due_provisional: bool
    done_at: datetime | None
    closed_at: datetime | None
    unit: str
    year: int | None
    number: int | None
    confidential: bool

    @property
    def label(self) -> str:
        return format_number(self.year, self.number) or f"登记号{self.item_id}"


def _counted(end: datetime, jan1: datetime) -> tuple[ColumnElement[bool], ...]:
    """Every counted unit's share assigned before the month ended and not done before the year
    began (a share done earlier counts in no figure of this report)."""
    return (
        Assignment.state.in_(COUNTED_STATES),
        Assignment.notified_at.is_not(None),
        Assignment.notified_at < end,
        Assignment.due_date.is_not(None),
        or_(Assignment.done_at.is_(None), Assignment.done_at >= jan1),
    )


async def _shares(session: AsyncSession, end: datetime, jan1: datetime) -> list[_Share]:
    """The shares ``_counted`` selects. Read in parts, the repeated words (units, roles, states)
    kept once: a city's shares, not their rows, are what is held."""
    stmt = (
        select(
            Assignment.id,
            Assignment.item_id,
            Assignment.role,
            Assignment.state,
            Assignment.due_date,
            Assignment.due_provisional,
            Assignment.done_at,
            Item.closed_at,
            Unit.name,
            Item.year,
            Item.number,
            Item.confidential,
        )
        .join(Item, Item.id == Assignment.item_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(*_counted(end, jan1))
        .order_by(Assignment.item_id, Assignment.id)
    )
    words: dict[str, str] = {}
    shares = []
    result = await session.stream(stmt.execution_options(yield_per=5000))
    async for part in result.partitions():
        for r in part:
            if r[4] is None:  # as selected: every share has a deadline
                continue
            shares.append(
                _Share(
                    r[0],
                    r[1],
                    words.setdefault(r[2], r[2]),
                    words.setdefault(r[3], r[3]),
                    r[4],
                    bool(r[5]),
                    r[6],
                    r[7],
                    words.setdefault(r[8], r[8]),
                    r[9],
                    r[10],
                    bool(r[11]),
                )
            )
    return shares


def _finished_on(a: _Share, reported: dict[int, date]) -> date | None:
    """As ``bot.domain.score.finished_on`` reads it: the approved (or pending) report's day, else
    the day an assisting share was closed with its item."""
    if a.id in reported:
        return reported[a.id]
    when = a.done_at or a.closed_at
    if a.state == "done" and when:
        return local_date(when)
    return None


async def _reasons(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    """Why a share is late, as recorded: a pending extension request, else the latest progress."""
    if not ids:
        return {}
    reasons: dict[int, str] = {}
    extensions = (
        await session.execute(
            select(ExtensionRequest.assignment_id, ExtensionRequest.new_due, ExtensionRequest.reason)
            .where(ExtensionRequest.assignment_id.in_(ids), ExtensionRequest.status == "pending")
            .order_by(ExtensionRequest.id)
        )
    ).all()
    for assignment_id, new_due, reason in extensions:
        reasons[assignment_id] = f"已申请延期至{new_due.isoformat()}（待审批）：{_short(reason)}"
    latest = (
        await session.execute(
            select(Progress.assignment_id, Progress.created_at, Progress.text).where(
                Progress.assignment_id.in_(ids),
                Progress.id.in_(
                    select(func.max(Progress.id))
                    .where(Progress.assignment_id.in_(ids))
                    .group_by(Progress.assignment_id)
                ),
            )
        )
    ).all()
    for assignment_id, at, text in latest:
        reasons.setdefault(assignment_id, f"最近反馈（{local_date(at).isoformat()}）：{_short(text)}")
    return reasons


async def _titles(session: AsyncSession, shares: list[_Share]) -> dict[int, str]:
    """The titles of the listed shares' items (a confidential one: CONFIDENTIAL), read only for them."""
    ids = {a.item_id for a in shares if not a.confidential}
    found = dict((await session.execute(select(Item.id, Item.title).where(Item.id.in_(ids)))).all()) if ids else {}
    return {a.item_id: CONFIDENTIAL if a.confidential else found.get(a.item_id, "") for a in shares}


def _line(
    a: _Share, titles: dict[int, str], calendar: WorkCalendar, until: date, finished: date | None, reason: str
) -> OverdueLine:
    count = calendar.working_days_between(a.due_date, until)
    return OverdueLine(
        label=a.label,
        title=titles[a.item_id],
        unit=a.unit,
        role=UNIT_ROLES_OF_ASSIGNMENT.get(a.role, a.role),
        due=a.due_date,
        days_over=max(1, count.days),
        finished=finished,
        reason=reason,
    )


async def report_data(session: AsyncSession, period: Period, calendar: WorkCalendar, now: datetime) -> ReportData:
    """The month's figures from the database (read-only)."""
    today = local_date(now)
    if (period.year, period.month) > (today.year, today.month):
        raise DomainError(f"{period.label}还没有开始")
    as_of = min(period.last, today)
    end = _start(period.next().first)
    new, closed, still_open, year_new, year_closed, by_source = await _totals(session, period)

    jan1 = _start(date(period.year, 1, 1))
    shares = await _shares(session, end, jan1)
    finished = await finished_dates(session, select(Assignment.id).where(*_counted(end, jan1)))
    month = [0, 0]
    year = [0, 0]
    per_unit: dict[str, list[int]] = {}
    overdue_shares: list[tuple[_Share, date | None]] = []
    late: list[tuple[_Share, date]] = []
    provisional = False
    for a in shares:
        done = _finished_on(a, finished)
        unit = per_unit.setdefault(a.unit, [0, 0, 0])
        if done is not None and period.first <= done <= period.last:
            month[0] += 1
            unit[0] += 1
            if done <= a.due_date:
                month[1] += 1
                unit[1] += 1
            else:
                late.append((a, done))
        if done is not None and date(period.year, 1, 1) <= done <= period.last:
            year[0] += 1
            year[1] += done <= a.due_date
        if a.due_date < as_of and (done is None or done > as_of):
            overdue_shares.append((a, done))
            unit[2] += 1
        provisional = provisional or a.due_provisional
    # The longest overdue: an earlier deadline is at least as many working days over, so ordering
    # by (deadline, number) is ordering by (-days over, deadline, number) without counting each.
    listed = heapq.nsmallest(LISTED, overdue_shares, key=lambda p: (p[0].due_date, p[0].year or 0, p[0].number or 0))
    listed_late = late[:LISTED]
    reasons = await _reasons(session, [a.id for a, done in listed if done is None])
    titles = await _titles(session, [a for a, _ in listed + listed_late])
    overdue = []
    for a, done in listed:
        if done is not None:
            reason = f"已于{done.isoformat()}办结（月末时仍未办结）"
        else:
            reason = reasons.get(a.id, "未反馈办理情况")
        overdue.append(_line(a, titles, calendar, as_of, done, reason))
    overdue.sort(key=lambda x: (-x.days_over, x.due, x.label))
    late_lines = [_line(a, titles, calendar, done, done, f"{done.isoformat()}办结") for a, done in listed_late]

    units = [UnitLine(name, *counts) for name, counts in sorted(per_unit.items()) if any(counts)]
    units.sort(key=lambda u: (-u.overdue, -u.finished, u.unit))

    start = _start(period.first)
    bulletins = [
        BulletinLine(
            local_date(b.issued_at),
            "表扬" if b.kind == "commendation" else "批评",
            b.unit.name,
            item_label(item),
            "" if item.confidential else _short(b.text, 200),
        )
        for b, item in (
            await session.execute(
                select(Bulletin, Item)
                .join(Item, Item.id == Bulletin.item_id)
                .where(Bulletin.issued_at >= start, Bulletin.issued_at < end)
                .order_by(Bulletin.issued_at, Bulletin.id)
            )
        ).all()
    ]
    records = (
        await session.execute(
            select(SupervisionRecord.form, SupervisionRecord.unannounced, func.count())
            .where(SupervisionRecord.occurred_at >= start, SupervisionRecord.occurred_at < end)
            .group_by(SupervisionRecord.form, SupervisionRecord.unannounced)
        )
    ).all()
    phone = sum(n for form, _u, n in records if form == "phone")
    onsite = sum(n for form, _u, n in records if form == "onsite")
    unannounced = sum(n for form, u, n in records if form == "onsite" and u)

    table = await score_table(session, period.year, today)
    scores = [ScoreLine(r.rank, r.unit, r.score_text, r.bonus, r.deduction, r.disqualified) for r in table.rows]
    notes = []
    if as_of < period.last:
        notes.append(f"{period.label}尚未结束，数据截至{as_of.isoformat()}。")
    if provisional:
        notes.append("部分办结时限按暂定放假安排计算（所涉年份放假安排尚未载入）。")
    return ReportData(
        period=period,
        as_of=as_of,
        generated_at=now,
        new_items=new,
        closed_items=closed,
        open_items=still_open,
        year_new=year_new,
        year_closed=year_closed,
        by_source=by_source,
        month_rate=Rate(*month),
        year_rate=Rate(*year),
        units=units,
        overdue=overdue,
        late_finished=late_lines,
        overdue_count=len(overdue_shares),
        late_count=len(late),
        bulletins=bulletins,
        phone_records=phone,
        onsite_records=onsite,
        unannounced=unannounced,
        scores=scores,
        score_average=table.average_text,
        scores_frozen=table.frozen,
        provisional=provisional,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Submission and the office head's decision
# --------------------------------------------------------------------------------------------


def file_name(period: Period) -> str:
    return f"督查工作情况报告（{period.label}）.docx"


def decision_buttons(report_id: int) -> list[list[Button]]:
    return [[Button("同意报送", f"{APPROVE}:{report_id}"), Button("退回", f"{RETURN}:{report_id}")]]


async def check_requester(session: AsyncSession, person: Person) -> Person:
    """Office staff and the office head may build a report."""
    me = await act(session, person, "report.build")
    if not me.has_role(*REPORT_ROLES):
        raise DomainError("只有督查室工作人员才能生成督查工作情况报告")
    return me


async def submit_report(
    session: AsyncSession,
    data: ReportData,
    *,
    path: str,
    requested_by: Person | None,
    now: datetime,
    dedupe_key: str | None = None,
) -> UpwardReport | None:
    """Record a built report and send it to the office head(s) to approve. An earlier report of the
    same month still waiting is superseded (its buttons then answer so). None when ``dedupe_key``
    was used before (the monthly sweep's second run)."""
    if (
        dedupe_key is not None
        and await session.scalar(select(UpwardReport.id).where(UpwardReport.dedupe_key == dedupe_key)) is not None
    ):
        return None
    for old in (
        await session.scalars(
            select(UpwardReport).where(UpwardReport.period == data.period.key, UpwardReport.state == "pending")
        )
    ).all():
        old.state = "superseded"
    row = UpwardReport(
        period=data.period.key,
        state="pending",
        file_path=path,
        file_name=file_name(data.period),
        summary=data.summary(),
        requested_by_id=requested_by.id if requested_by else None,
        created_at=now,
        dedupe_key=dedupe_key,
    )
    session.add(row)
    await session.flush()
    caption = render("report/approval_request.html.j2", d=data, by=requested_by.name if requested_by else None)
    for head in await office_heads(session):
        await enqueue(
            session,
            head,
            caption,
            now=now,
            kind="document",
            file_path=path,
            file_name=row.file_name,
            buttons=decision_buttons(row.id),
            dedupe_key=f"report:{row.id}:ask:{head.id}",
        )
    return row


async def _pending(session: AsyncSession, person: Person, report_id: int, action: str) -> tuple[Person, UpwardReport]:
    me = await act(session, person, action)
    require_role(me, "office_head", "审核督查工作情况报告")
    q = select(UpwardReport).where(UpwardReport.id == report_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = await session.scalar(q)
    if row is None:
        raise DomainError("找不到该报告，可能已被删除")
    if row.state == "superseded":
        raise AlreadyHandled("该报告已有更新的版本，请审核最新收到的报告")
    if row.state != "pending":
        by = row.decided_by.name if row.decided_by else "督查室负责人"
        raise AlreadyHandled(f"该报告已由{by}处理（{STATES[row.state]}）")
    return me, row


def _period_of(row: UpwardReport) -> Period:
    year, month = row.period.split("-")
    return Period(int(year), int(month))


async def _office_to_tell(session: AsyncSession, row: UpwardReport) -> list[Person]:
    """Who asked for it, or every office staff member for the monthly report."""
    if row.requested_by is not None and row.requested_by.active:
        return [row.requested_by]
    return await office_staff(session)


async def approve_report(
    session: AsyncSession, person: Person, report_id: int, *, now: datetime
) -> tuple[UpwardReport, int]:
    """同意报送 (office head): the document goes to every county leader. Returns (report, leaders)."""
    me, row = await _pending(session, person, report_id, "report.approve")
    row.state, row.decided_by_id, row.decided_at = "approved", me.id, now
    await session.flush()
    period = _period_of(row)
    leaders = await people_with_role(session, "leader")
    caption = render("report/to_leader.html.j2", period=period, s=row.summary, by=me.name)
    for leader in leaders:
        await enqueue(
            session,
            leader,
            caption,
            now=now,
            kind="document",
            file_path=row.file_path,
            file_name=row.file_name,
            dedupe_key=f"report:{row.id}:leader:{leader.id}",
        )
    text = render("report/decided.html.j2", period=period, approved=True, by=me.name, leaders=len(leaders))
    for p in await _office_to_tell(session, row):
        if p.id != me.id:
            await enqueue(session, p, text, now=now, dedupe_key=f"report:{row.id}:decided:{p.id}")
    return row, len(leaders)


async def return_report(
    session: AsyncSession, person: Person, report_id: int, *, reason: str, now: datetime
) -> UpwardReport:
    """退回 (office head) with a reason: whoever asked (or the office) is told, with a button to rebuild."""
    me, row = await _pending(session, person, report_id, "report.return")
    row.state, row.decided_by_id, row.decided_at = "returned", me.id, now
    row.reason = clean_text(reason, "退回理由", 500)
    await session.flush()
    period = _period_of(row)
    text = render("report/decided.html.j2", period=period, approved=False, by=me.name, reason=row.reason)
    rebuild = [[Button(f"重新生成{period.label}报告", f"{BUILD}:{period.year}{period.month:02d}")]]
    for p in await _office_to_tell(session, row):
        if p.id != me.id:
            await enqueue(session, p, text, now=now, buttons=rebuild, dedupe_key=f"report:{row.id}:decided:{p.id}")
    return row


async def check_pending(session: AsyncSession, person: Person, report_id: int) -> UpwardReport:
    """The dry run of 退回 at the tap: may this person return this report now? (No change.)"""
    _me, row = await _pending(session, person, report_id, "report.return")
    return row


async def report_by_id(session: AsyncSession, report_id: int) -> UpwardReport | None:
    return await session.get(UpwardReport, report_id)
