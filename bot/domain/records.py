"""电话督查, 实地督查 (明查 / 暗访) and 通报: the office's other forms of supervision (regulation §6).

* ``record_call``   (office)  — who was called, when, what was said and promised. The unit's
  liaisons get the record with 确认 / 有异议; ``confirm_record`` records the confirmation,
  ``dispute_record`` records the disagreement and sends it back to the office. For a confidential
  item the messenger carries no content, so nothing can be confirmed in it: the record is marked
  ``confirmation="none"`` and the liaison is asked to come to the office.
* ``announce_visit`` (office) — an announced on-site visit (明查) may be announced to the unit's
  liaisons beforehand. Nothing is stored but the message itself.
* ``record_visit``  (office)  — notes and photos after a visit. An announced visit's record is
  sent to the unit's liaisons for information. An unannounced visit (暗访) is never announced and
  its record is not sent to the unit at all; the unit does not see it in its view of the dossier
  either. The office follows up through a phone record or a bulletin, which the unit does see.
* ``issue_bulletin`` (office) — 通报批评 / 通报表扬 of a unit on an item, rendered from
  ``templates/records/bulletin.html.j2``, sent to every liaison (and the unit's heads) through the
  outbox and counted in the score under the rule the office chose (a criticism rule, or
  commendation); the score event links to the bulletin. A confidential item's bulletin names only
  its number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.actions import button
from bot.domain.attachments import AttachmentIn, add_attachments, validate
from bot.domain.dates import FUTURE_SLACK, WHEN_HELP, parse_when  # noqa: F401 (read where they always were)
from bot.domain.directory import people_with_role
from bot.domain.errors import DomainError, NotAllowed
from bot.domain.events import record_item_event
from bot.domain.score import COMMENDATION, CRITICISM_RULES, DEFAULT_RULES, Rule, Rules, record_event
from bot.domain.views import find_item
from bot.domain.workflow import (
    NO_ACCESS,
    SOURCES,
    AlreadyHandled,
    InvalidState,
    act,
    clean_text,
    item_label,
    liaisons,
    load_item,
    local_date,
    locked,
    notify_many,
    office_staff,
    optional_text,
    require_role,
    unit_heads,
)
from bot.kernel.clock import OFFICE_TZ
from bot.kernel.render import render
from bot.outbox.queue import Keyboard, enqueue
from store.models import Person
from store.records import Bulletin, SupervisionRecord
from store.workflow import Assignment, Item

VISIT_OWNER_KIND = "supervision"  # attachments.owner_kind of an on-site visit's photos
VISIT_OWNER_LABEL = "实地督查"
FORMS = {"phone": "电话督查", "onsite": "实地督查"}
CONFIRMATIONS = {"pending": "待确认", "confirmed": "已确认", "disputed": "有异议", "none": "无需确认"}
BULLETIN_KINDS = {"criticism": "通报批评", "commendation": "通报表扬"}
MAX_CONTACT = 100
# The office supervises an item from its notice until it is archived.
RECORDABLE_STATES = frozenset({"assigned", "in_progress", "reported", "leader_review", "closed"})


# --------------------------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------------------------


def check_supervisable(item: Item, what: str) -> None:
    """Only an item between its notice and its archiving is supervised."""
    if item.state not in RECORDABLE_STATES:
        if item.state == "archived":
            raise InvalidState(f"{item_label(item)}已归档，不能再{what}")
        raise InvalidState(f"{item_label(item)}尚未审批交办，不能{what}")


def units_of(item: Item) -> list[Assignment]:
    """The units an item was given to (not the draft ones), lead first."""
    return sorted((a for a in item.assignments if a.state != "draft"), key=lambda a: (a.role != "lead", a.id))


async def item_for_supervision(
    session: AsyncSession, person: Person, item_ref: str | int, *, what: str, now: datetime
) -> Item:
    """The item an office dialog (/call, /visit, /bulletin) starts from: checked, nothing changed."""
    me = await act(session, person, "record.prepare")
    require_role(me, "office", what)
    item = await find_item(session, item_ref, now)
    check_supervisable(item, what)
    return item


async def _item_unit(session: AsyncSession, item_id: int, unit_id: int, what: str) -> tuple[Item, Assignment]:
    """The item (locked) and the unit's share of it; only items being supervised, only their units."""
    item = await load_item(session, item_id, lock=True)
    check_supervisable(item, what)
    a = next((x for x in units_of(item) if x.unit_id == unit_id), None)
    if a is None:
        raise DomainError(f"该单位未承办{item_label(item)}，请选择本事项的承办单位")
    return item, a


# --------------------------------------------------------------------------------------------
# 电话督查
# --------------------------------------------------------------------------------------------


def confirm_buttons(record_id: int) -> Keyboard:
    return [[button("c:ok", record_id), button("c:no", record_id)]]


@dataclass(frozen=True)
class Sent:
    """A record and how many people were told (0: the unit has no liaison yet)."""

    record: SupervisionRecord
    told: int


async def record_call(
    session: AsyncSession,
    person: Person,
    *,
    item_id: int,
    unit_id: int,
    contact: str,
    occurred_at: datetime,
    summary: str,
    promise: str | None,
    now: datetime,
) -> Sent:
    """电话督查 (office): the record goes to the unit's liaisons with 确认 / 有异议."""
    me = await act(session, person, "record.call")
    require_role(me, "office", "记录电话督查")
    item, a = await _item_unit(session, item_id, unit_id, "记录电话督查")
    contact = clean_text(contact, "通话对象", MAX_CONTACT)
    summary = clean_text(summary, "通话内容")
    promise = optional_text(promise, "对方承诺")
    if occurred_at > now + FUTURE_SLACK:
        raise DomainError("通话时间不能晚于现在")
    record = SupervisionRecord(
        item_id=item.id,
        assignment_id=a.id,
        unit_id=a.unit_id,
        form="phone",
        unannounced=False,
        contact=contact,
        occurred_at=occurred_at,
        summary=summary,
        promise=promise,
        recorded_by_id=me.id,
        recorded_at=now,
        confirmation="none" if item.confidential else "pending",
    )
    session.add(record)
    await session.flush()
    await record_item_event(session, "call", item.id, occurred_at, actor_id=me.id, assignment_id=a.id, ref=record)
    told = await notify_many(
        session,
        await liaisons(session, a.unit_id),
        "records/call_record.html.j2",
        item=item,
        now=now,
        label="电话督查记录（请到督查室查阅确认）" if item.confidential else "电话督查记录",
        dedupe=f"call:{record.id}",
        buttons=None if item.confidential else confirm_buttons(record.id),
        unit=a.unit.name,
        by=me.name,
        when=occurred_at,
        contact=contact,
        summary=summary,
        promise=promise,
    )
    await session.flush()
    return Sent(record, told)


async def _own_phone_record(
    session: AsyncSession, person: Person, record_id: int, action: str, what: str
) -> tuple[Person, SupervisionRecord, Item]:
    me = await act(session, person, action)
    record, item = await locked(session, SupervisionRecord, record_id, "督查记录")
    if me.unit_id is None or me.unit_id != record.unit_id:
        raise NotAllowed(NO_ACCESS)
    if not me.has_role("liaison"):
        raise NotAllowed(f"只有{record.unit.name}的联络员才能{what}")
    if record.form != "phone" or record.confirmation == "none":
        raise InvalidState("这份记录无需在此确认")
    if record.confirmation == "confirmed":
        raise AlreadyHandled("这份电话督查记录已确认，无需重复操作。")
    if record.confirmation == "disputed":
        raise AlreadyHandled("已对这份电话督查记录提出异议，督查室会与您联系。")
    return me, record, item


async def confirm_record(session: AsyncSession, person: Person, record_id: int, *, now: datetime) -> SupervisionRecord:
    """确认 (the unit's liaison): the phone record is confirmed as written."""
    me, record, _ = await _own_phone_record(session, person, record_id, "record.confirm", "确认电话督查记录")
    record.confirmation, record.confirmed_by_id, record.confirmed_at = "confirmed", me.id, now
    await record_item_event(
        session, "call_answer", record.item_id, now, actor_id=me.id, assignment_id=record.assignment_id, ref=record
    )
    await session.flush()
    return record


async def dispute_record(
    session: AsyncSession, person: Person, record_id: int, *, reason: str, now: datetime
) -> SupervisionRecord:
    """有异议 (the unit's liaison): the disagreement is recorded and goes back to the office."""
    me, record, item = await _own_phone_record(session, person, record_id, "record.dispute", "对电话督查记录提出异议")
    reason = clean_text(reason, "异议内容")
    record.confirmation, record.confirmed_by_id, record.confirmed_at = "disputed", me.id, now
    record.dispute = reason
    await record_item_event(
        session, "call_answer", record.item_id, now, actor_id=me.id, assignment_id=record.assignment_id, ref=record
    )
    await session.flush()
    recorder = record.recorded_by
    people = [recorder] if recorder.active and recorder.has_role("office") else await office_staff(session)
    await notify_many(
        session,
        people,
        "records/call_disputed.html.j2",
        item=item,
        now=now,
        label="电话督查记录有异议",
        dedupe=f"call-dispute:{record.id}",
        unit=record.unit.name,
        by=me.name,
        when=record.occurred_at,
        summary=record.summary,
        promise=record.promise,
        reason=reason,
    )
    await session.flush()
    return record


# --------------------------------------------------------------------------------------------
# 实地督查
# --------------------------------------------------------------------------------------------


async def announce_visit(
    session: AsyncSession, person: Person, *, item_id: int, unit_id: int, planned: str, now: datetime
) -> int:
    """Tell the unit's liaisons of a planned announced visit (明查); returns how many were told.
    An unannounced visit (暗访) is, by definition, never announced: there is no such call."""
    me = await act(session, person, "record.visit_announce")
    require_role(me, "office", "预告实地督查")
    item, a = await _item_unit(session, item_id, unit_id, "安排实地督查")
    planned = clean_text(planned, "计划时间和安排", 500)
    return await notify_many(
        session,
        await liaisons(session, a.unit_id),
        "records/visit_planned.html.j2",
        item=item,
        now=now,
        label="实地督查预告",
        dedupe=None,
        unit=a.unit.name,
        by=me.name,
        planned=planned,
    )


async def record_visit(
    session: AsyncSession,
    person: Person,
    *,
    item_id: int,
    unit_id: int,
    occurred_at: datetime,
    summary: str,
    unannounced: bool,
    photos: Sequence[AttachmentIn] = (),
    contact: str | None = None,
    now: datetime,
) -> Sent:
    """实地督查 (office): notes and photos. An announced visit's record goes to the unit's liaisons
    for information; an unannounced one (暗访) goes to nobody."""
    me = await act(session, person, "record.visit")
    require_role(me, "office", "记录实地督查")
    item, a = await _item_unit(session, item_id, unit_id, "记录实地督查")
    summary = clean_text(summary, "督查情况")
    contact = optional_text(contact, "现场接待人员", MAX_CONTACT)
    validate(photos)
    if occurred_at > now + FUTURE_SLACK:
        raise DomainError("督查时间不能晚于现在")
    record = SupervisionRecord(
        item_id=item.id,
        assignment_id=a.id,
        unit_id=a.unit_id,
        form="onsite",
        unannounced=bool(unannounced),
        contact=contact,
        occurred_at=occurred_at,
        summary=summary,
        promise=None,
        recorded_by_id=me.id,
        recorded_at=now,
        confirmation="none",
    )
    session.add(record)
    await session.flush()
    await record_item_event(session, "visit", item.id, occurred_at, actor_id=me.id, assignment_id=a.id, ref=record)
    add_attachments(
        session,
        photos,
        item_id=item.id,
        assignment_id=a.id,
        owner_kind=VISIT_OWNER_KIND,
        owner_id=record.id,
        uploaded_by_id=me.id,
        now=now,
    )
    told = 0
    if not unannounced:
        told = await notify_many(
            session,
            await liaisons(session, a.unit_id),
            "records/visit_record.html.j2",
            item=item,
            now=now,
            label="实地督查记录",
            dedupe=f"visit:{record.id}",
            unit=a.unit.name,
            by=me.name,
            when=occurred_at,
            summary=summary,
            contact=contact,
            photos=len(photos),
        )
    await session.flush()
    return Sent(record, told)


# --------------------------------------------------------------------------------------------
# 通报
# --------------------------------------------------------------------------------------------


def bulletin_rules(kind: str, rules: Rules = DEFAULT_RULES) -> list[Rule]:
    """The rules a bulletin of ``kind`` may count under: the criticism rules, or commendation."""
    if kind == "criticism":
        return [rules[c] for c in CRITICISM_RULES if c in rules]
    if kind == "commendation":
        return [rules[COMMENDATION]]
    raise DomainError("通报类型只能是通报批评或通报表扬")


@dataclass(frozen=True)
class BulletinDraft:
    item: Item
    assignment: Assignment
    kind: str
    rule: Rule
    text: str


async def _prepare_bulletin(
    session: AsyncSession,
    me: Person,
    *,
    item_id: int,
    unit_id: int,
    kind: str,
    rule_code: str | None,
    text: str,
    rules: Rules,
) -> BulletinDraft:
    require_role(me, "office", "发布通报")
    allowed = bulletin_rules(kind, rules)
    if kind == "commendation" and rule_code is None:
        rule_code = COMMENDATION
    rule = next((r for r in allowed if r.code == rule_code), None)
    if rule is None:
        names = "、".join(r.name for r in allowed)
        raise DomainError(f"{BULLETIN_KINDS[kind]}只能按以下考核规则计分：{names}")
    item, a = await _item_unit(session, item_id, unit_id, "发布通报")
    text = clean_text(text, "通报内容")
    return BulletinDraft(item, a, kind, rule, text)


def _bulletin_text(d: BulletinDraft, *, office_name: str, seq: int | None, issued_at: datetime) -> str:
    item = d.item
    return render(
        "records/bulletin.html.j2",
        office=office_name,
        year=local_date(issued_at).year,
        seq=seq,
        kind=d.kind,
        kind_label=BULLETIN_KINDS[d.kind],
        unit=d.assignment.unit.name,
        number=item_label(item),
        confidential=item.confidential,
        title=None if item.confidential else item.title,
        source=SOURCES.get(item.source, item.source),
        text=None if item.confidential else d.text,
        rule=d.rule,
        date=local_date(issued_at).isoformat(),
    )


async def preview_bulletin(
    session: AsyncSession,
    person: Person,
    *,
    item_id: int,
    unit_id: int,
    kind: str,
    rule_code: str | None,
    text: str,
    office_name: str,
    now: datetime,
    rules: Rules = DEFAULT_RULES,
) -> str:
    """The bulletin as it would go out (checks everything, changes nothing)."""
    me = await act(session, person, "bulletin.preview")
    draft = await _prepare_bulletin(
        session, me, item_id=item_id, unit_id=unit_id, kind=kind, rule_code=rule_code, text=text, rules=rules
    )
    return _bulletin_text(draft, office_name=office_name, seq=None, issued_at=now)


@dataclass(frozen=True)
class Issued:
    bulletin: Bulletin
    text: str  # as broadcast
    told: int


async def bulletin_seq(session: AsyncSession, b: Bulletin) -> int:
    """The bulletin's number in its year (通报第N期), counted from the rows: they are never deleted."""
    year = local_date(b.issued_at).year
    start = datetime(year, 1, 1, tzinfo=OFFICE_TZ)
    return (
        await session.scalar(
            select(func.count()).select_from(Bulletin).where(Bulletin.issued_at >= start, Bulletin.id <= b.id)
        )
        or 1
    )


async def issue_bulletin(
    session: AsyncSession,
    person: Person,
    *,
    item_id: int,
    unit_id: int,
    kind: str,
    rule_code: str | None,
    text: str,
    office_name: str,
    now: datetime,
    rules: Rules = DEFAULT_RULES,
) -> Issued:
    """通报 (office): stored, broadcast to every liaison and the unit's heads, and scored."""
    me = await act(session, person, "bulletin.issue")
    d = await _prepare_bulletin(
        session, me, item_id=item_id, unit_id=unit_id, kind=kind, rule_code=rule_code, text=text, rules=rules
    )
    b = Bulletin(
        kind=kind,
        item_id=d.item.id,
        unit_id=d.assignment.unit_id,
        rule=d.rule.code,
        text=d.text,
        issued_by_id=me.id,
        issued_at=now,
    )
    session.add(b)
    await session.flush()
    await record_item_event(session, "bulletin", d.item.id, now, actor_id=me.id, assignment_id=d.assignment.id, ref=b)
    seq = await bulletin_seq(session, b)
    event = await record_event(
        session,
        year=local_date(now).year,
        unit_id=b.unit_id,
        rule_code=d.rule.code,
        now=now,
        reason=f"{BULLETIN_KINDS[kind]}（{local_date(now).year}年第{seq}期）",
        item_id=d.item.id,
        assignment_id=d.assignment.id,
        recorded_by_id=me.id,
        automatic=True,
        dedupe_key=f"bulletin:{b.id}",
        rules=rules,
    )
    b.score_event_id = event.id if event else None
    await session.flush()
    message = _bulletin_text(d, office_name=office_name, seq=seq, issued_at=now)
    people = {p.id: p for p in await people_with_role(session, "liaison")}
    for p in await unit_heads(session, b.unit_id):
        people.setdefault(p.id, p)
    for p in people.values():
        await enqueue(session, p, message, now=now, dedupe_key=f"bulletin:{b.id}:{p.id}")
    return Issued(b, message, len(people))
