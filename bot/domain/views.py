"""Read-only views for the chat UI: lists with traffic lights, and one item in detail.

Who sees what (checked here, from the database):
office and office head — every item; responsible leader — their items once approved; the
principal leader (主要领导, issue 12) — every approved item, paged in SQL like every list;
liaison and unit head — the items their unit was assigned. A confidential item's title and
requirements never leave here: views are shown in the messenger (``title`` reads "涉密事项").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ARRAY,
    Date,
    Integer,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    union,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, joinedload, raiseload
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from bot.domain.actions import button
from bot.domain.change_log import KIND_LABELS as CHANGE_LABELS
from bot.domain.chasing import milestones_of
from bot.domain.confidential import progress_button, report_button, shown_label
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.evidence import visible_count
from bot.domain.manual_urge import URGE_STATES
from bot.domain.urging import milestone_label
from bot.domain.workdays import WorkCalendar
from bot.domain.workflow import (
    ACTIVE_ASSIGNMENT_STATES,
    ASSIGNMENT_STATES,
    IMPORTANCE,
    ITEM_STATES,
    LIGHT_RANK,
    LIVE_ASSIGNMENT_STATES,
    NO_ACCESS,
    OPEN_ITEM_STATES,
    SOURCES,
    UNIT_ROLES_OF_ASSIGNMENT,
    YELLOW_DAYS,
    Light,
    act,
    assignment_light,
    can_view,
    deadline_rule,
    format_number,
    is_responsible_leader,
    item_label,
    light_for,
    load_item,
    local_date,
    parse_item_ref,
    worst,
)
from bot.outbox.queue import Button, Keyboard
from store import fast_read
from store.audit import Actor
from store.changes import ItemChange
from store.models import Person, Unit
from store.workflow import Assignment, CompletionReport, ExtensionRequest, Item, ItemLeader, Transfer

CONFIDENTIAL_TITLE = "涉密事项（请到督查室查阅）"


def confidential_title(item: Item | ListedItem) -> str:
    """The title a view shows: a confidential item's neutral label (bot.domain.confidential), or
    CONFIDENTIAL_TITLE when it has none that may be shown."""
    if not item.confidential:
        return item.title
    name = shown_label(item.title, True)
    return f"{name}（请到督查室查阅）" if name else CONFIDENTIAL_TITLE


MAX_PAGE_SIZE = 50


@dataclass(frozen=True)
class ItemFilters:
    """Narrow a list. ``include_closed`` adds closed and archived items (and, for units, the ones
    they passed on or declined)."""

    states: frozenset[str] | None = None
    unit_id: int | None = None
    importance: str | None = None
    source: str | None = None
    light: str | None = None  # green | yellow | red
    year: int | None = None
    include_closed: bool = False


@dataclass(frozen=True)
class AssignmentView:
    id: int
    unit_id: int
    unit_name: str
    role: str
    role_label: str
    state: str
    state_label: str
    due: date | None
    due_provisional: bool
    light: Light | None
    acknowledged_at: datetime | None
    extension_count: int
    redo_count: int
    task: str | None = None  # the unit's own 分工 (issue 12); None: the item's requirements, or not shown


@dataclass(frozen=True)
class ItemSummary:
    id: int
    number: str | None  # 督字〔2026〕3号; None for a draft
    label: str  # the number, or 登记号N for a draft
    title: str  # CONFIDENTIAL_TITLE for a confidential item
    confidential: bool
    importance: str
    importance_label: str
    state: str
    state_label: str
    due: date | None
    due_provisional: bool
    light: Light | None  # the worst light of the units still owing work
    assignments: tuple[AssignmentView, ...]
    my_assignment_id: int | None  # the person's own unit's live assignment, if any
    office_handled: bool = False  # 督查室自办: no units (issue 12)


@dataclass(frozen=True)
class ItemPage:
    items: tuple[ItemSummary, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class PendingRequest:
    kind: str  # extension | transfer | report | change (a change to the item, issue 12)
    id: int
    assignment_id: int | None
    unit_name: str
    at: datetime
    detail: str | None  # new due date (extension); None for confidential items


@dataclass(frozen=True)
class ItemDetail:
    summary: ItemSummary
    requirements: str | None  # None for a confidential item
    source_label: str
    weekly_feedback: bool
    deadline_rule: str  # "批准后7个工作日" or "2026-04-30"
    leaders: tuple[str, ...]
    follower: str | None
    created_by: str
    approved_at: datetime | None
    closed_at: datetime | None
    pending: tuple[PendingRequest, ...]
    buttons: Keyboard = field(default_factory=list)  # what this person may do now
    label: str | None = None  # a confidential item's neutral label, if it has one that may be shown


def _assignment_view(
    calendar: WorkCalendar, a: Assignment | ListedAssignment, today: date, confidential: bool
) -> AssignmentView:
    return AssignmentView(
        id=a.id,
        unit_id=a.unit_id,
        unit_name=a.unit.name,
        role=a.role,
        role_label=UNIT_ROLES_OF_ASSIGNMENT.get(a.role, a.role),
        state=a.state,
        state_label=ASSIGNMENT_STATES.get(a.state, a.state),
        due=a.due_date,
        due_provisional=a.due_provisional,
        light=assignment_light(calendar, a, today),
        acknowledged_at=a.acknowledged_at,
        extension_count=a.extension_count,
        redo_count=a.redo_count,
        task=None if confidential else a.task,
    )


def summarize(item: Item | ListedItem, me: Person, calendar: WorkCalendar, now: datetime) -> ItemSummary:
    today = local_date(now)
    views = tuple(_assignment_view(calendar, a, today, item.confidential) for a in item.assignments)
    mine = next(
        (
            a.id
            for a in item.assignments
            if me.unit_id is not None and a.unit_id == me.unit_id and a.state in LIVE_ASSIGNMENT_STATES
        ),
        None,
    )
    lead = next((a for a in item.assignments if a.role == "lead" and a.state != "transferred"), None)
    return ItemSummary(
        id=item.id,
        number=format_number(item.year, item.number),
        label=item_label(item),
        title=confidential_title(item),
        confidential=item.confidential,
        importance=item.importance,
        importance_label=IMPORTANCE.get(item.importance, item.importance),
        state=item.state,
        state_label=ITEM_STATES.get(item.state, item.state),
        due=lead.due_date if lead and lead.due_date else item.due_date,
        due_provisional=lead.due_provisional if lead and lead.due_date else item.due_provisional,
        # An item the office handles itself has no unit: its own deadline gives the light.
        light=light_for(calendar, item.due_date, today)
        if item.office_handled and item.state == "in_progress"
        else worst(v.light for v in views),
        assignments=views,
        my_assignment_id=mine,
        office_handled=item.office_handled,
    )


def _visible(me: Person):  # noqa: ANN202
    """A SQL condition: the items ``me`` may see (see ``bot.domain.workflow.can_view``)."""
    if me.has_role("office", "office_head"):
        return None
    conditions: list[ColumnElement[bool]] = []
    if me.is_principal_leader:  # 主要领导 (issue 12): every approved item in the county
        conditions.append(_not_among(Item.state, ("draft", "pending")))
    elif me.has_role("leader"):
        conditions.append(
            and_(
                _not_among(Item.state, ("draft", "pending")),
                exists().where(ItemLeader.item_id == Item.id, ItemLeader.person_id == me.id),
            )
        )
    if me.has_role("liaison", "unit_head") and me.unit_id is not None:
        conditions.append(
            exists().where(Assignment.item_id == Item.id, Assignment.unit_id == me.unit_id, Assignment.state != "draft")
        )
    return or_(*conditions) if conditions else False


async def open_items_for(
    session: AsyncSession,
    person: Person,
    filters: ItemFilters | None = None,
    page: int = 1,
    page_size: int = 10,
    *,
    calendar: WorkCalendar,
    now: datetime,
) -> ItemPage:
    """The items ``person`` may see that are still open, worst traffic light first, paged.

    Office: all (drafts and pending ones too); liaison and unit head: their unit's, where the unit
    still owes or has reported work; leader: the items they are responsible for; the principal
    leader (主要领导): every approved item, still one SQL page at a time (never all loaded).
    """
    me = await viewer(session, person, "view.list")
    filters = filters or ItemFilters()
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    page = max(1, int(page))
    statements = _list_statements(session.get_bind().dialect.name, me, filters)
    if statements is None:
        return ItemPage((), 0, page, page_size)
    today = local_date(now)
    params = {
        "me_id": me.id,
        "me_unit_id": me.unit_id,
        "today": today,
        "yellow_until": _yellow_until(calendar, today),
        "limit": page_size,
        "offset": (page - 1) * page_size,
    }
    # The page's items with their assignments and units, and the total, in one statement read as
    # plain rows (on SQLite, past SQLAlchemy's execution: store.fast_read): a list is read-only,
    # and building ORM objects cost more than the database's own work. Only a page past the end
    # (no rows) needs the count on its own.
    page_stmt, count_stmt = statements
    rows = await fast_read.rows(session, page_stmt, params)
    total = rows[0][_TOTAL] if rows else (await fast_read.rows(session, count_stmt, params))[0][0]
    listed = _listed_items(rows)
    return ItemPage(tuple(summarize(item, me, calendar, now) for item in listed), total, page, page_size)


@dataclass(slots=True)
class ListedUnit:
    name: str


@dataclass(slots=True)
class ListedAssignment:
    """The columns of an assignment a list shows (``summarize`` reads them as an ``Assignment``'s)."""

    id: int
    unit_id: int
    role: str
    state: str
    due_date: date | None
    due_provisional: bool
    acknowledged_at: datetime | None
    extension_count: int
    redo_count: int
    task: str | None
    unit: ListedUnit  # last: the other fields are the page's columns, in order


@dataclass(slots=True)
class ListedItem:
    """The columns of an item a list shows, with its assignments (as an ``Item``'s, by id)."""

    id: int
    year: int | None
    number: int | None
    title: str
    confidential: bool
    importance: str
    state: str
    due_date: date | None
    due_provisional: bool
    office_handled: bool
    assignments: list[ListedAssignment] = field(default_factory=list)


_LISTED_ITEM = tuple(f for f in ListedItem.__dataclass_fields__ if f != "assignments")
_LISTED_ASSIGNMENT = tuple(f for f in ListedAssignment.__dataclass_fields__ if f != "unit")
# A page's columns, in order: the item's, its order keys and the list's total, then one assignment's
# and its unit's name. Rows are read by position (``_listed_items``), checked once per statement.
_PAGE_COLUMNS = (*_LISTED_ITEM, "rank", "due", "total", *(f"a_{name}" for name in _LISTED_ASSIGNMENT), "a_unit_name")
_TOTAL, _A_ID, _A_UNIT_NAME = (_PAGE_COLUMNS.index(key) for key in ("total", "a_id", "a_unit_name"))
_ITEM_VALUES = itemgetter(*range(len(_LISTED_ITEM)))
_ASSIGNMENT_VALUES = itemgetter(*(_PAGE_COLUMNS.index(f"a_{name}") for name in _LISTED_ASSIGNMENT))


def _listed_items(rows: Sequence[Sequence[Any]]) -> list[ListedItem]:
    """Rows of ``_PAGE_COLUMNS``, in the page's order, one per assignment (or one with no
    assignment) -> the page's items."""
    items: dict[int, ListedItem] = {}
    for values in rows:
        item = items.get(values[0])
        if item is None:
            item = items[values[0]] = ListedItem(*_ITEM_VALUES(values))
        if values[_A_ID] is not None:
            fields: tuple[Any, ...] = (*_ASSIGNMENT_VALUES(values), ListedUnit(values[_A_UNIT_NAME]))
            item.assignments.append(ListedAssignment(*fields))
    return list(items.values())


@dataclass(frozen=True)
class _Asker:
    """Who asks, as far as a list's SQL depends on it: the roles, and the ids as parameters."""

    roles: frozenset[str]
    has_unit: bool
    is_principal_leader: bool = False

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def id(self) -> BindParameter[int]:
        return bindparam("me_id")

    @property
    def unit_id(self) -> BindParameter[int] | None:
        return bindparam("me_unit_id") if self.has_unit else None


_LIST_STATEMENTS: dict[tuple, tuple | None] = {}


def _list_statements(dialect: str, me: Person, filters: ItemFilters) -> tuple | None:
    """The page and count statements of a list, built once per shape (dialect, roles, filters) with
    the person, the day and the page as parameters: building and keying them cost more than the
    database's work on a liaison's list (they run for every /items and every page turned)."""
    asker = _Asker(me.roles, me.unit_id is not None, me.is_principal_leader)
    key = (dialect, asker, filters)
    if key not in _LIST_STATEMENTS:
        if len(_LIST_STATEMENTS) > 512:  # filters by unit could make many; they are cheap to rebuild
            _LIST_STATEMENTS.clear()
        _LIST_STATEMENTS[key] = _build_list_statements(dialect, asker, filters)
    return _LIST_STATEMENTS[key]


def _build_list_statements(dialect: str, asker: _Asker, filters: ItemFilters) -> tuple | None:
    where = _list_conditions(asker, filters, _id_in_for(dialect))  # type: ignore[arg-type]
    if where is None:
        return None
    rank, shown_due = _order_keys(bindparam("today", type_=Date), bindparam("yellow_until", type_=Date))
    if filters.light:
        where.append(rank == LIGHT_RANK[filters.light])
    order = (rank.desc(), shown_due.is_(None), shown_due, Item.id)
    page = (
        select(*(getattr(Item, name).label(name) for name in _LISTED_ITEM), rank.label("rank"), shown_due.label("due"))
        .where(*where)
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    count = select(func.count().label("total")).select_from(Item).where(*where)
    # Uncorrelated (its own items and assignments, never the outer query's): computed once.
    total = count.correlate(None).scalar_subquery().label("total")
    assignment_columns = (getattr(Assignment, name).label(f"a_{name}") for name in _LISTED_ASSIGNMENT)
    with_assignments = (
        select(page, total, *assignment_columns, Unit.name.label("a_unit_name"))
        .select_from(page)
        .outerjoin(Assignment, Assignment.item_id == page.c.id)
        .outerjoin(Unit, Unit.id == Assignment.unit_id)
        .order_by(page.c.rank.desc(), page.c.due.is_(None), page.c.due, page.c.id, Assignment.id)
    )
    if tuple(with_assignments.selected_columns.keys()) != _PAGE_COLUMNS:
        raise AssertionError("a list page's columns are read by position: keep them as _PAGE_COLUMNS")
    return with_assignments, count


# A search page (bot.domain.search) loads the items with their assignments and units, nothing else:
# one statement, and any other relationship touched by mistake raises instead of loading lazily.
LIST_OPTIONS = (joinedload(Item.assignments).joinedload(Assignment.unit), raiseload("*"))


async def viewer(session: AsyncSession, person: Person, action: str) -> Person:
    """The person for a read-only view. One the gate looked up in this very update (roles loaded)
    is not read again; any other is re-read like every acting person (``act``)."""
    if "role_rows" in sa_inspect(person).unloaded:
        return await act(session, person, action)
    if not person.active:
        raise NotAllowed("您的账号已停用，如有疑问请联系督查室")
    session.info["actor"] = Actor(person.id, person.name)
    session.info["action"] = action
    return person


def _id_in(session: AsyncSession):  # noqa: ANN202
    """``Item.id IN (ids)`` as each database plans it best for a few thousand ids out of many.

    PostgreSQL estimates an IN (subquery) as a join and often scans every item; ``= ANY`` of the
    ids gathered first (one InitPlan) makes it look the items up by primary key."""
    return _id_in_for(session.get_bind().dialect.name)


def _id_in_for(dialect: str):  # noqa: ANN202
    if dialect == "postgresql":
        # The cast makes ANY read one array value, not the rows of a subquery.
        def id_in(ids):  # noqa: ANN001, ANN202
            found = ids.subquery()
            return Item.id == any_(cast(select(func.array_agg(found.c[0])).scalar_subquery(), ARRAY(Integer)))

        return id_in
    return lambda ids: Item.id.in_(ids)


_CODE = re.compile(r"[a-z_]+")


def _codes(values: Iterable[str]) -> list[ColumnElement[Any]]:
    """State codes written into the statement: a list of parameters would be expanded by SQLAlchemy
    on every execution (a rewrite of the SQL text), and lists run on every page turned."""
    literals: list[ColumnElement[Any]] = []
    for value in values:
        if not _CODE.fullmatch(value):
            raise ValueError(f"not a state code: {value!r}")
        literals.append(literal_column(f"'{value}'"))
    return literals


def _among(column: InstrumentedAttribute[str], codes: Iterable[str]) -> ColumnElement[bool]:
    return column.in_(_codes(codes))


def _not_among(column: InstrumentedAttribute[str], codes: Iterable[str]) -> ColumnElement[bool]:
    return column.not_in(_codes(codes))


def _list_conditions(me: Person, filters: ItemFilters, id_in) -> list | None:  # noqa: ANN001
    """The WHERE of a list (None: this person sees no item at all)."""
    visible = _visible(me)
    if visible is False:
        return None
    unit_only = not me.has_role("office", "office_head", "leader")
    if unit_only and not filters.include_closed:
        # The unit's open list: items it still owes or has reported work on (passed on or
        # declined ones are off it). Stricter than ``_visible``, and read from the unit's index.
        where = [
            id_in(
                select(Assignment.item_id).where(
                    Assignment.unit_id == me.unit_id, _among(Assignment.state, LIVE_ASSIGNMENT_STATES)
                )
            )
        ]
    else:
        where = [] if visible is None else [visible]
        scope = _visible_item_ids(me)
        if scope is not None:  # lets the database start from the person's own items, by index
            where.append(id_in(scope))
    if not filters.include_closed:
        where.append(_among(Item.state, OPEN_ITEM_STATES))
    if filters.states:
        where.append(_among(Item.state, filters.states))
    if filters.importance:
        where.append(Item.importance == filters.importance)
    if filters.source:
        where.append(Item.source == filters.source)
    if filters.year:
        where.append(Item.year == filters.year)
    if filters.unit_id is not None:
        where.append(exists().where(Assignment.item_id == Item.id, Assignment.unit_id == filters.unit_id))
    return where


def _visible_item_ids(me: Person):  # noqa: ANN202
    """The ids a person's list can draw from (a superset of ``_visible``; None: every item)."""
    if me.has_role("office", "office_head") or me.is_principal_leader:
        return None
    ids = []
    if me.has_role("leader"):
        ids.append(select(ItemLeader.item_id).where(ItemLeader.person_id == me.id))
    if me.has_role("liaison", "unit_head") and me.unit_id is not None:
        ids.append(select(Assignment.item_id).where(Assignment.unit_id == me.unit_id))
    return union(*ids) if len(ids) > 1 else ids[0] if ids else select(Item.id).where(false())


def _list_order(calendar: WorkCalendar, today: date):  # noqa: ANN202
    """The list's order in SQL: worst light first (``summarize``'s light), then the due date shown.

    The light of an item is that of its earliest due date among the units still owing work, and a
    light only depends on the due date, so two dates computed here with the working-day calendar
    (red before ``today``, yellow before the first day with more than YELLOW_DAYS working days
    left) turn it into a CASE the database can sort and filter by. ``owing_due`` and ``lead_due``
    are kept on the item by triggers (migration 0009)."""
    return _order_keys(today, _yellow_until(calendar, today))


@functools.lru_cache(maxsize=64)
def _yellow_until(calendar: WorkCalendar, today: date) -> date:
    """The first day whose due date shows green: more than YELLOW_DAYS working days left.
    Cached: the same for every list asked for on one day (a calendar never changes)."""
    yellow_until = today + timedelta(days=1)
    while calendar.working_days_left(today, yellow_until) <= YELLOW_DAYS:
        yellow_until += timedelta(days=1)
    return yellow_until


def _order_keys(today, yellow_until):  # noqa: ANN001, ANN202 — dates or bound parameters
    rank = case(
        (Item.owing_due.is_(None), -1),
        (Item.owing_due < today, LIGHT_RANK["red"]),
        (Item.owing_due < yellow_until, LIGHT_RANK["yellow"]),
        else_=LIGHT_RANK["green"],
    )
    return rank, func.coalesce(Item.lead_due, Item.due_date)


_DRAFT_REF = re.compile(r"登记号\s*(\d{1,10})")


async def find_item(session: AsyncSession, item_ref: str | int, now: datetime) -> Item:
    """An item by id (``int``, from a button) or by number as typed (``"3"``, ``"督字〔2026〕3号"``)."""
    if isinstance(item_ref, int) and not isinstance(item_ref, bool):
        return await load_item(session, item_ref)
    draft = _DRAFT_REF.fullmatch(str(item_ref).strip())
    if draft is not None:  # 登记号N: how the bot names an item before it has a number (issue 12)
        draft_id = int(draft.group(1))
        if draft_id > 2**31 - 1 or await session.scalar(select(Item.id).where(Item.id == draft_id)) is None:
            raise DomainError(f"没有找到登记号{draft_id}的督查事项，请检查登记号")
        return await load_item(session, draft_id)
    year, number = parse_item_ref(str(item_ref), local_date(now).year)
    item_id = await session.scalar(select(Item.id).where(Item.year == year, Item.number == number))
    if item_id is None:
        raise DomainError(f"没有找到督字〔{year}〕{number}号督查事项，请检查编号")
    return await load_item(session, item_id)


async def item_detail(
    session: AsyncSession, person: Person, item_ref: str | int, *, calendar: WorkCalendar, now: datetime
) -> ItemDetail:
    """One item as ``person`` may see it, with the buttons they may use now.

    ``item_ref``: an item id (int) or a number as typed — "3" is this year's 督字〔year〕3号."""
    me = await act(session, person, "view.item")
    item = await find_item(session, item_ref, now)
    if not can_view(me, item):
        raise NotAllowed(NO_ACCESS)
    summary = summarize(item, me, calendar, now)
    if not (me.has_role("office", "office_head") or is_responsible_leader(me, item) or me.is_principal_leader):
        # A unit sees its own 分工; the office and the leaders see every unit's (issue 12).
        summary = replace(
            summary,
            assignments=tuple(v if v.unit_id == me.unit_id else replace(v, task=None) for v in summary.assignments),
        )
    pending: list[PendingRequest] = []
    ids = [a.id for a in item.assignments]
    units = {a.id: a.unit.name for a in item.assignments}
    if ids:
        for r in (
            await session.scalars(
                select(ExtensionRequest).where(
                    ExtensionRequest.assignment_id.in_(ids), ExtensionRequest.status == "pending"
                )
            )
        ).all():
            pending.append(
                PendingRequest(
                    "extension",
                    r.id,
                    r.assignment_id,
                    units[r.assignment_id],
                    r.requested_at,
                    None if item.confidential else f"申请延期至{r.new_due.isoformat()}",
                )
            )
        for t in (
            await session.scalars(select(Transfer).where(Transfer.assignment_id.in_(ids), Transfer.status == "pending"))
        ).all():
            pending.append(
                PendingRequest(
                    "transfer",
                    t.id,
                    t.assignment_id,
                    units[t.assignment_id],
                    t.requested_at,
                    None if item.confidential else "申请转办",
                )
            )
        for c in (
            await session.scalars(
                select(CompletionReport).where(
                    CompletionReport.assignment_id.in_(ids), CompletionReport.status == "pending"
                )
            )
        ).all():
            pending.append(
                PendingRequest(
                    "report",
                    c.id,
                    c.assignment_id,
                    units[c.assignment_id],
                    c.created_at,
                    None if item.confidential else "办结报告待审核",
                )
            )
    for change in (
        await session.scalars(select(ItemChange).where(ItemChange.item_id == item.id, ItemChange.status == "pending"))
    ).all():
        pending.append(
            PendingRequest(
                "change",
                change.id,
                None,
                "",
                change.proposed_at,
                f"{CHANGE_LABELS.get(change.kind, change.kind)}待审批",
            )
        )
    pending.sort(key=lambda p: (p.at, p.kind, p.id))
    return ItemDetail(
        summary=summary,
        requirements=None if item.confidential else item.requirements,
        source_label=SOURCES.get(item.source, item.source),
        weekly_feedback=item.weekly_feedback,
        deadline_rule=deadline_rule(item),
        leaders=tuple(p.name for p in item.leaders),
        follower=item.follower.name if item.follower else None,
        created_by=item.created_by.name,
        approved_at=item.approved_at,
        closed_at=item.closed_at,
        pending=tuple(pending),
        buttons=_buttons(me, item, pending)
        + await _chase_rows(session, me, item)
        + await _evidence_row(session, me, item),
        label=shown_label(item.title, True) if item.confidential else None,
    )


async def _chase_rows(session: AsyncSession, me: Person, item: Item) -> Keyboard:
    """Issue 12 point 4: 催办 for office staff while a unit is still at work on the item; 节点完成
    for each open milestone of the liaison's own unit's plan."""
    rows: Keyboard = []
    if (
        me.has_role("office")
        and item.state in URGE_STATES
        and any(a.state in ACTIVE_ASSIGNMENT_STATES for a in item.assignments)
    ):
        rows.append([button("i:urg", item.id)])
    if me.has_role("liaison") and me.unit_id is not None:
        mine = [a.id for a in item.assignments if a.unit_id == me.unit_id and a.state == "in_progress"]
        for m in await milestones_of(session, mine):
            rows.append([button("m:ok", m.id, milestone_label(m, item.confidential))])
    return rows


async def _evidence_row(session: AsyncSession, me: Person, item: Item) -> Keyboard:
    """查看附件 when the item has files ``me`` may receive (issue 12: evidence where one decides)."""
    n = await visible_count(session, me, item)
    return [[button("i:att", item.id, f"查看附件（{n}）")]] if n else []


def _buttons(me: Person, item: Item, pending: list[PendingRequest]) -> Keyboard:
    """The actions open to ``me`` on this item now (the services check again when pressed)."""
    rows: Keyboard = []
    if me.has_role("office_head") and item.state == "pending":
        rows.append([button("i:ok", item.id, "同意立项"), button("i:no", item.id, "退回")])
    if me.has_role("office"):
        if item.state == "draft":
            rows.append([button("i:sub", item.id)])
            # Issue 12: a draft (also one the office head returned) is edited before it is resubmitted.
            # A confidential draft has a neutral label and no requirements typed in chat (§9(五)).
            texts = (
                [button("i:ttl", item.id, "修改简称")]
                if item.confidential
                else [button("i:ttl", item.id), button("i:req", item.id)]
            )
            rows.append([*texts, button("i:dl", item.id)])
            rows.append([button("i:au", item.id), button("i:ru", item.id), button("i:lu", item.id)])
            rows.append([button("i:del", item.id)])
        if item.state == "pending":
            rows.append([button("i:wd", item.id)])
        if item.state == "in_progress" and item.office_handled:  # 督查室自办: the office reports itself
            rows.append([button("i:ofr", item.id)])
        if item.state in ("assigned", "in_progress", "reported"):
            rows.append([button("i:cd", item.id)] + ([] if item.confidential else [button("i:cr", item.id)]))
            if not item.office_handled:
                rows.append([button("i:ca", item.id), button("i:cu", item.id)])
                # 分工 per unit (issue 12): one unit's own task (not in chat for a confidential item) or deadline.
                rows.append(([] if item.confidential else [button("i:ct", item.id)]) + [button("i:cud", item.id)])
            rows.append([button("i:sus", item.id), button("i:can", item.id)])
        if item.state == "suspended":
            rows.append([button("i:res", item.id), button("i:can", item.id)])
        if item.state == "closed":
            rows.append([button("i:arc", item.id)])
        for p in pending:
            if p.kind == "change":
                continue  # decided by the office head (below)
            code = {"extension": "x", "transfer": "t", "report": "r"}[p.kind]
            rows.append(
                [
                    Button(f"{b.text}（{p.unit_name}）", b.data)
                    for b in (button(f"{code}:ok", p.id), button(f"{code}:no", p.id))
                ]
            )
    if me.has_role("office_head"):
        for p in pending:
            if p.kind == "change":
                rows.append(
                    [
                        Button(f"{b.text}（{(p.detail or '').removesuffix('待审批')}）", b.data)
                        for b in (button("g:ok", p.id), button("g:no", p.id))
                    ]
                )
    if me.has_role("liaison") and me.unit_id is not None:
        for a in item.assignments:
            if a.unit_id != me.unit_id or a.state not in ACTIVE_ASSIGNMENT_STATES:
                continue
            if a.state == "assigned":
                rows.append([button("a:ack", a.id)])
            if item.confidential:  # reported on paper, confirmed here in one tap (bot.domain.confidential)
                rows.append([progress_button(a.id, True), button("a:ext", a.id)])
                rows.append([report_button(a.id, True)])
            else:
                rows.append([button("a:prg", a.id), button("a:pln", a.id)])
                rows.append([button("a:ext", a.id), button("a:rpt", a.id)])
            rows.append([button("a:trf", a.id)] + ([button("a:dec", a.id)] if a.role == "assist" else []))
    if item.state == "leader_review" and is_responsible_leader(me, item):
        rows.append([button("l:ok", item.id), button("l:ins", item.id), button("l:ret", item.id)])
    if item.state in ("assigned", "in_progress", "reported") and is_responsible_leader(me, item):
        rows.append([button("l:dir", item.id)])  # issue 12: an instruction while the units work
    return rows
