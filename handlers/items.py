"""/new: the office registers a supervision item (立项) in a short guided dialog.

Confidential? (buttons, asked first) → title → requirements, or for a confidential item only a
short neutral label (regulation §9(五): its content never passes through the chat; the 文件 goes
round on paper, ``bot.domain.confidential``) → source (buttons, regulation §3) → importance
(buttons) → lead unit (type part of its name, pick a button; or 督查室自办, no unit at all) →
assisting units (search and toggle, any number, 完成) → 「为各单位分别填写分工吗？」 (issue 12: 逐个填写
asks each unit's own task, with an optional last line 「时限：…」 for its own deadline; 不需要 keeps
one task and deadline for all; not asked for a confidential item) → deadline (N working days or a date; important items offer the 7-day default) →
weekly feedback (the default is on when the item runs longer than a week) → a follower (专人,
urgent items only) → responsible leader(s) (toggle, 完成) → a summary with 提交审批 / 取消.

提交审批 registers the draft and submits it to the office head in two steps: when submitting
fails (e.g. no office head yet) the draft stays and can be submitted later from /items.
Every step re-checks in the database that the person is office staff; /cancel always works; an
abandoned dialog times out with a polite message (``TIMEOUT_SECONDS``, read when used).
"""

from __future__ import annotations

import logging
import re
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.domain import items as items_svc
from bot.domain.actions import parse_id
from bot.domain.confidential import MAX_LABEL, OFFLINE_REQUIREMENTS, clean_label
from bot.domain.dates import parse_date
from bot.domain.deadlines import day_off, example_date, weekday_name
from bot.domain.directory import people_with_role, person_by_id
from bot.domain.errors import DomainError
from bot.domain.workflow import (
    IMPORTANCE,
    IMPORTANT_DEFAULT_DAYS,
    MAX_TEXT,
    SOURCES,
    DeadlineSpec,
    clean_text,
    clean_title,
    due_text,
    fix_deadline,
    local_date,
)
from bot.kernel.render import render
from handlers.common import message_text, reply, requires, tap_data
from handlers.context import Ctx, actor
from handlers.dialogs import Dialog
from handlers.dialogs import add as add_dialog
from handlers.env import env_of
from handlers.keyboards import clear_tapped_keyboard, edit_tapped, set_keyboard
from handlers.widgets import cancel_handler, tapped_unit, timeout_notice, unit_buttons

log = logging.getLogger("duban.new_item")

TIMEOUT_SECONDS: float = 900  # an abandoned /new is cancelled after 15 minutes without an answer
END = ConversationHandler.END
# The states' numbers are kept in persisted dialogs: new ones are added at the end.
(
    TITLE,
    REQUIREMENTS,
    SOURCE,
    IMPORTANCE_,
    LEAD,
    ASSIST,
    DEADLINE,
    CONFIDENTIAL,
    WEEKLY,
    FOLLOWER,
    LEADERS,
    CONFIRM,
    LABEL,
) = range(13)

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
_DAYS = re.compile(r"(\d{1,4})\s*(?:个)?\s*(?:工作日|天)?")


def parse_deadline(text: str, today) -> DeadlineSpec:  # noqa: ANN001
    """``7`` / ``7个工作日`` → 7 working days; a date as ``bot.domain.dates.parse_date`` reads it."""
    s = (text or "").strip()
    m = _DAYS.fullmatch(s)
    spec = DeadlineSpec.working_days(int(m.group(1))) if m else DeadlineSpec.on_date(parse_date(s, today))
    return spec.validate(today)


def _state(context: Ctx) -> dict:
    st = context.chat_data.answers("new")
    return st if st is not None else context.chat_data.open("new")


async def _send(update: Update, step: str, markup: InlineKeyboardMarkup | None = None, **ctx: object) -> None:
    await reply(update, "chat/new.html.j2", markup, step=step, **ctx)


async def _ask(
    update: Update, context: Ctx, step: str, markup: InlineKeyboardMarkup | None = None, **ctx: object
) -> None:
    """A numbered question: a confidential item has one step fewer (no requirements)."""
    await _send(update, step, markup, conf=bool(_state(context).get("confidential")), **ctx)


async def _chosen(update: Update, label: str, value: str) -> None:
    """Turn the tapped question into its answer (no buttons left to tap twice)."""
    await edit_tapped(update, render("chat/new.html.j2", step="chosen", label=label, value=value))


def _choice_keyboard(prefix: str, options: dict[str, str], per_row: int = 2) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(name, callback_data=f"new:{prefix}:{code}") for code, name in options.items()]
    return InlineKeyboardMarkup([buttons[i : i + per_row] for i in range(0, len(buttons), per_row)])


def _tail(data: str) -> str:
    return data.rsplit(":", 1)[1]


# --------------------------------------------------------------------------------------------
# Text steps
# --------------------------------------------------------------------------------------------


async def new_start(update: Update, context: Ctx) -> int:
    person = await context.person(update)
    if person is None or not person.has_role("office"):
        # Not through ``requires``: its None would leave a conversation timeout scheduled.
        log.warning("event=denied what=/new user=%s person=%s", update.effective_user.id, person.id if person else None)
        await reply(update, "messages/not_allowed.html.j2", what="/new")
        return END
    context.chat_data.open("new")
    await _send(
        update,
        "confidential",
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("不涉密", callback_data="new:conf:0"),
                    InlineKeyboardButton("🔒 涉密", callback_data="new:conf:1"),
                ]
            ]
        ),
    )
    return CONFIDENTIAL


@requires("office", what="/new")
async def confidential_chosen(update: Update, context: Ctx) -> int | None:
    """涉密 first: a confidential item is never asked for a title or requirements (§9(五))."""
    query = update.callback_query
    await query.answer()
    st = _state(context)
    st["confidential"] = _tail(tap_data(update)) == "1"
    await _chosen(update, "是否涉密", "涉密" if st["confidential"] else "不涉密")
    if st["confidential"]:
        await _send(update, "label", max_label=MAX_LABEL)
        return LABEL
    await _send(update, "title")
    return TITLE


@requires("office", what="/new")
async def got_label(update: Update, context: Ctx) -> int | None:
    """A confidential item's short neutral label; anything that looks like content is refused."""
    try:
        label = clean_label(message_text(update))
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    st = _state(context)
    st["title"], st["requirements"] = label, OFFLINE_REQUIREMENTS
    await _ask(update, context, "source", _choice_keyboard("src", SOURCES, per_row=1))
    return SOURCE


@requires("office", what="/new")
async def got_title(update: Update, context: Ctx) -> int | None:
    try:
        title = clean_title(_INVISIBLE.sub("", message_text(update)))
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    _state(context)["title"] = title
    await _send(update, "requirements")
    return REQUIREMENTS


@requires("office", what="/new")
async def got_requirements(update: Update, context: Ctx) -> int | None:
    try:
        text = clean_text(_INVISIBLE.sub("", message_text(update)), "办理要求", MAX_TEXT)
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    _state(context)["requirements"] = text
    await _ask(update, context, "source", _choice_keyboard("src", SOURCES, per_row=1))
    return SOURCE


async def _pick(update: Update, context: Ctx, options: dict[str, str], key: str, label: str) -> bool:
    """A tap on one of ``options``: remember it and show the choice; False (answered) if invalid."""
    query = update.callback_query
    code = _tail(tap_data(update))
    if code not in options:
        await query.answer("无效的选择", show_alert=True)
        return False
    await query.answer()
    _state(context)[key] = code
    await _chosen(update, label, options[code])
    return True


@requires("office", what="/new")
async def source_chosen(update: Update, context: Ctx) -> int | None:
    if not await _pick(update, context, SOURCES, "source", "事项来源"):
        return None
    await _ask(update, context, "importance", _choice_keyboard("imp", IMPORTANCE, per_row=3))
    return IMPORTANCE_


@requires("office", what="/new")
async def importance_chosen(update: Update, context: Ctx) -> int | None:
    if not await _pick(update, context, IMPORTANCE, "importance", "重要程度"):
        return None
    await _ask(update, context, "lead", _OFFICE_HANDLES)
    return LEAD


@requires("office", what="/new")
async def lead_typed(update: Update, context: Ctx) -> int | None:
    text = update.message.text.strip()
    rows, more = await unit_buttons(context, text, "new:lead")
    if not rows:
        await reply(update, "chat/unit_search.html.j2", query=text[:50], found=False, more=False)
        return None
    await _send(update, "pick_lead", InlineKeyboardMarkup(rows), more=more)
    return None


@requires("office", what="/new")
async def lead_chosen(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    if _tail(tap_data(update)) == "self":  # 督查室自办: no unit at all (issue 12)
        return await _office_handles(update, context)
    unit = await tapped_unit(context, tap_data(update), active=True)
    if unit is None:
        await query.answer("该单位不存在或已停用，请重新选择", show_alert=True)
        return None
    await query.answer()
    st = _state(context)
    st["lead"] = (unit.id, unit.name)
    st["assist"] = {}
    await _chosen(update, "主办单位", unit.name)
    await _ask(update, context, "assist", _assist_done_keyboard(st))
    return ASSIST


def _assist_done_keyboard(st: dict) -> InlineKeyboardMarkup:
    n = len(st.get("assist", {}))
    label = f"完成（已选{n}个）" if n else "无协办单位，下一步"
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data="new:as:done")]])


@requires("office", what="/new")
async def assist_typed(update: Update, context: Ctx) -> int | None:
    st = _state(context)
    text = update.message.text.strip()
    rows, more = await unit_buttons(context, text, "new:as", exclude={st["lead"][0]}, selected=st["assist"])
    if not rows:
        await reply(update, "chat/unit_search.html.j2", query=text[:50], found=False, more=False)
        return None
    rows += [list(r) for r in _assist_done_keyboard(st).inline_keyboard]
    await _send(update, "pick_assist", InlineKeyboardMarkup(rows), selected=list(st["assist"].values()), more=more)
    return None


@requires("office", what="/new")
async def assist_toggled(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    st = _state(context)
    raw = _tail(tap_data(update))
    if raw == "done":
        await query.answer()
        names = list(st["assist"].values())
        await _chosen(update, "协办单位", "、".join(names) if names else "无")
        if st.get("confidential"):  # a unit's own task would be content typed in chat (§9(五))
            return await _ask_deadline(update, context)
        await _ask(update, context, "shares_offer", _SHARES_OFFER)  # 分工 per unit (issue 12)
        return SHARES
    unit = await tapped_unit(context, tap_data(update), active=True)
    if unit is None or unit.id == st["lead"][0]:
        await query.answer("该单位不能选为协办单位", show_alert=True)
        return None
    key = str(unit.id)
    if key in st["assist"]:
        del st["assist"][key]
        await query.answer(f"已移除：{unit.name}")
    else:
        st["assist"][key] = unit.name
        await query.answer(f"已选：{unit.name}")
    # Redraw the tapped result list: ✅ on the chosen units, the count on 完成.
    tapped = query.message.reply_markup if isinstance(query.message, Message) else None
    if tapped is None:  # a forged tap on a message without the list: the answer above says it all
        return None
    rows = []
    for row in tapped.inline_keyboard:
        b = row[0]
        if b.callback_data == "new:as:done" or not isinstance(b.callback_data, str):  # ours carry text
            continue
        uid = _tail(b.callback_data)
        name = b.text.removeprefix("✅ ")
        rows.append(
            [InlineKeyboardButton(("✅ " if uid in st["assist"] else "") + name, callback_data=b.callback_data)]
        )
    rows += [list(r) for r in _assist_done_keyboard(st).inline_keyboard]
    await edit_tapped(
        update,
        render("chat/new.html.j2", step="pick_assist", selected=list(st["assist"].values())),
        InlineKeyboardMarkup(rows),
    )
    return None


def _deadline_keyboard(st: dict) -> InlineKeyboardMarkup | None:
    if st.get("importance") != "important":
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(f"默认：{IMPORTANT_DEFAULT_DAYS}个工作日", callback_data="new:dl:def")]]
    )


async def _after_deadline(update: Update, context: Ctx, spec: DeadlineSpec) -> int:
    st = _state(context)
    env = await env_of(context)
    today = local_date(env.now)
    fixed = fix_deadline(env.calendar, spec, today)
    st["deadline"] = (spec.days, spec.on.isoformat() if spec.on else None)
    st["due_estimate"] = due_text(fixed.due, fixed.provisional)
    st["weekly_default"] = (fixed.due - today).days > 7
    on_default = st["weekly_default"]
    await _ask(
        update,
        context,
        "weekly",
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("需要每周反馈" + ("（默认）" if on_default else ""), callback_data="new:wk:1"),
                    InlineKeyboardButton("不需要" + ("" if on_default else "（默认）"), callback_data="new:wk:0"),
                ]
            ]
        ),
        on_default=on_default,
    )
    return WEEKLY


def _deadline_label(st: dict) -> str:
    days, on = st["deadline"]
    return f"批准后{days}个工作日（按今天批准计，约至{st['due_estimate']}）" if days else on


@requires("office", what="/new")
async def deadline_typed(update: Update, context: Ctx) -> int | None:
    env = await env_of(context)
    try:
        spec = parse_deadline(message_text(update), local_date(env.now))
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    off = day_off(env.calendar, spec.on, local_date(env.now)) if spec.on else None
    if off is not None:  # a Saturday or a holiday: the office decides, knowingly (bot.domain.deadlines)
        _state(context)["day_off"] = off.day.isoformat()
        choices = (
            [
                [
                    InlineKeyboardButton(
                        f"改为 {off.previous.isoformat()}（{weekday_name(off.previous)}）", callback_data="new:dl:prev"
                    )
                ]
            ]
            if off.previous
            else []
        )
        choices.append([InlineKeyboardButton(f"仍用 {off.day.isoformat()}", callback_data="new:dl:keep")])
        await _send(
            update,
            "day_off",
            InlineKeyboardMarkup(choices),
            day=off.day.isoformat(),
            what=off.what,
            previous=off.previous.isoformat() if off.previous else None,
        )
        return None
    return await _after_deadline(update, context, spec)


@requires("office", what="/new")
async def day_off_chosen(update: Update, context: Ctx) -> int | None:
    """改为 the working day before, or 仍用 the day off as typed."""
    query = update.callback_query
    st = _state(context)
    typed = st.pop("day_off", None)
    if typed is None:
        await query.answer("请重新输入办结时限", show_alert=True)
        return None
    await query.answer()
    env = await env_of(context)
    chosen = date.fromisoformat(typed)
    off = day_off(env.calendar, chosen, local_date(env.now))
    if _tail(tap_data(update)) == "prev" and off is not None and off.previous is not None:
        chosen = off.previous
    await _chosen(update, "办结时限", chosen.isoformat())
    try:
        spec = DeadlineSpec.on_date(chosen).validate(local_date(env.now))
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    return await _after_deadline(update, context, spec)


@requires("office", what="/new")
async def deadline_default(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    await query.answer()
    st = _state(context)
    if st.get("importance") != "important":
        return None
    await _chosen(update, "办结时限", f"批准后{IMPORTANT_DEFAULT_DAYS}个工作日")
    return await _after_deadline(update, context, DeadlineSpec.working_days(IMPORTANT_DEFAULT_DAYS))


@requires("office", what="/new")
async def weekly_chosen(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    await query.answer()
    st = _state(context)
    st["weekly"] = _tail(tap_data(update)) == "1"
    await _chosen(update, "每周反馈", "需要" if st["weekly"] else "不需要")
    if st["importance"] == "urgent":
        async with context.services.db.session() as s:
            staff = await people_with_role(s, "office")
        rows = [[InlineKeyboardButton(p.name, callback_data=f"new:fol:{p.id}")] for p in staff]
        await _ask(update, context, "follower", InlineKeyboardMarkup(rows))
        return FOLLOWER
    return await _ask_leaders(update, context)


@requires("office", what="/new")
async def follower_chosen(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    async with context.services.db.session() as s:
        person = await person_by_id(s, parse_id(_tail(tap_data(update))))
    if person is None or not person.active or not person.has_role("office"):
        await query.answer("跟踪专人须为督查室工作人员", show_alert=True)
        return None
    await query.answer()
    _state(context)["follower"] = (person.id, person.name)
    await _chosen(update, "专人跟踪", person.name)
    return await _ask_leaders(update, context)


def _leader_keyboard(leaders: list[tuple[int, str]], selected: dict) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(("✅ " if str(pid) in selected else "") + name, callback_data=f"new:ldr:{pid}")]
        for pid, name in leaders
    ]
    rows.append([InlineKeyboardButton(f"完成（已选{len(selected)}位）", callback_data="new:ldr:done")])
    return InlineKeyboardMarkup(rows)


async def _ask_leaders(update: Update, context: Ctx) -> int:
    async with context.services.db.session() as s:
        leaders = [(p.id, p.name) for p in await people_with_role(s, "leader")]
    if not leaders:
        context.chat_data.close("new")
        await reply(
            update, "chat/error.html.j2", message="尚未登记县领导，无法立项。请先用 /invite 邀请县领导。", again=False
        )
        return END
    st = _state(context)
    st["leader_options"] = leaders
    st["leaders"] = {}
    await _send(update, "leaders", _leader_keyboard(leaders, st["leaders"]))
    return LEADERS


@requires("office", what="/new")
async def leader_toggled(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    st = _state(context)
    raw = _tail(tap_data(update))
    if raw == "done":
        if not st["leaders"]:
            await query.answer("请至少选择一位负责审阅的县领导", show_alert=True)
            return None
        await query.answer()
        await _chosen(update, "审阅领导", "、".join(st["leaders"].values()))
        await _send(update, "summary_intro")
        await update.effective_chat.send_message(
            render(
                "chat/new_summary.html.j2", st=st, sources=SOURCES, importance=IMPORTANCE, deadline=_deadline_label(st)
            ),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("提交审批", callback_data="new:ok"),
                        InlineKeyboardButton("取消", callback_data="new:x"),
                    ]
                ]
            ),
        )
        return CONFIRM
    options = dict(st["leader_options"])
    if not raw.isdigit() or int(raw) not in options:
        await query.answer("无效的选择", show_alert=True)
        return None
    if raw in st["leaders"]:
        del st["leaders"][raw]
    else:
        st["leaders"][raw] = options[int(raw)]
    await query.answer()
    try:
        await set_keyboard(
            context,
            query.message.chat.id,
            query.message.message_id,
            _leader_keyboard(st["leader_options"], st["leaders"]),
        )
    except TelegramError:
        pass
    return None


@requires("office", what="/new")
async def confirmed(update: Update, context: Ctx) -> int | None:
    query = update.callback_query
    st = context.chat_data.answers("new")
    if not st or "leaders" not in st:
        await query.answer("该立项操作已结束，请重新发送 /new", show_alert=True)
        return END
    await query.answer()
    person = await context.known_person(update)
    env = await env_of(context)
    days, on = st["deadline"]
    spec = DeadlineSpec(days, date.fromisoformat(on) if on else None)
    try:
        async with env.services.db.session(actor(person)) as s:
            item = await items_svc.register_item(
                s,
                person,
                title=st["title"],
                requirements=st["requirements"],
                source=st["source"],
                importance=st["importance"],
                lead_unit_id=st["lead"][0] if st.get("lead") else None,
                assisting_unit_ids=[int(k) for k in st.get("assist", {})],
                unit_tasks={int(k): v for k, v in st.get("tasks", {}).items()},
                unit_deadlines={
                    int(k): DeadlineSpec(d, date.fromisoformat(o) if o else None)
                    for k, (d, o) in st.get("unit_deadlines", {}).items()
                },
                office_handled=bool(st.get("office_handled")),
                deadline=spec,
                confidential=st["confidential"],
                weekly_feedback=st["weekly"],
                follower_id=st["follower"][0] if st.get("follower") else None,
                leader_ids=[int(k) for k in st["leaders"]],
                calendar=env.calendar,
                now=env.now,
            )
            item_id = item.id
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=False)
        return None  # stay: the person may read the error and tap 取消
    context.chat_data.close("new")
    await clear_tapped_keyboard(update, context)
    problem = None
    try:
        async with env.services.db.session(actor(person)) as s:
            await items_svc.submit_item(s, person, item_id, now=env.now)
    except DomainError as exc:
        problem = exc.message
    log.info("event=item_registered item=%s person=%s submitted=%s", item_id, person.id, problem is None)
    await reply(
        update,
        "chat/new_done.html.j2",
        item_id=item_id,
        title=st["title"],
        confidential=st["confidential"],
        problem=problem,
    )
    return END


# --------------------------------------------------------------------------------------------
# 分工 per unit and 督查室自办 (issue 12 point 6, §4(五), §5(二))
# --------------------------------------------------------------------------------------------

SHARES, SHARE_TEXT = 13, 14  # after the states above (persisted dialogs keep their numbers)
_OFFICE_HANDLES = InlineKeyboardMarkup(
    [[InlineKeyboardButton("督查室自办（不交办单位）", callback_data="new:lead:self")]]
)
_SHARES_OFFER = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("逐个填写分工", callback_data="new:sh:yes"),
            InlineKeyboardButton("不需要，下一步", callback_data="new:sh:no"),
        ]
    ]
)
_SHARE_SKIP = InlineKeyboardMarkup([[InlineKeyboardButton("跳过此单位", callback_data="new:sh:skip")]])
_UNIT_DEADLINE = re.compile(r"\s*(?:单位)?(?:时限|期限)\s*[：:]\s*(.+)")


async def _ask_deadline(update: Update, context: Ctx) -> int:
    st = _state(context)
    env = await env_of(context)
    await _ask(
        update,
        context,
        "deadline",
        _deadline_keyboard(st),
        default_days=IMPORTANT_DEFAULT_DAYS,
        important=st["importance"] == "important",
        example=example_date(env.calendar, local_date(env.now)),
    )
    return DEADLINE


async def _office_handles(update: Update, context: Ctx) -> int:
    """督查室自办: the office handles the item itself, no lead or assisting unit (§5(二))."""
    await update.callback_query.answer()
    st = _state(context)
    st["office_handled"], st["lead"], st["assist"] = True, None, {}
    await _chosen(update, "承办", "督查室自办（不交办单位）")
    return await _ask_deadline(update, context)


def _share_units(st: dict) -> list[tuple[str, str, str]]:
    """(unit id, name, 主办|协办) in the order the office is asked about them."""
    lead_id, lead_name = st["lead"]
    return [(str(lead_id), lead_name, "主办"), *((k, v, "协办") for k, v in st["assist"].items())]


async def _ask_share(update: Update, context: Ctx) -> int:
    st = _state(context)
    units = _share_units(st)
    i = st.get("share_at", 0)
    if i >= len(units):
        return await _ask_deadline(update, context)
    _, name, role = units[i]
    await _send(update, "share", _SHARE_SKIP, unit=name, role=role, at=i + 1, of=len(units))
    return SHARE_TEXT


@requires("office", what="/new")
async def shares_chosen(update: Update, context: Ctx) -> int | None:
    """「为各单位分别填写分工吗？」: 逐个填写, 不需要 (today's behaviour), or 跳过 one unit."""
    query = update.callback_query
    await query.answer()
    st = _state(context)
    choice = _tail(tap_data(update))
    if choice == "no":
        await _chosen(update, "分工", "不单独填写（各单位按办理要求办理）")
        return await _ask_deadline(update, context)
    if choice == "yes":
        await _chosen(update, "分工", "逐个填写")
        st["share_at"], st["tasks"], st["unit_deadlines"] = 0, {}, {}
    elif choice == "skip" and "share_at" in st:
        _, name, _ = _share_units(st)[st["share_at"]]
        await _chosen(update, name, "按办理要求办理")
        st["share_at"] += 1
    else:
        return None
    return await _ask_share(update, context)


@requires("office", what="/new")
async def share_typed(update: Update, context: Ctx) -> int | None:
    """One unit's task; a last line 「时限：…」 (a date or N working days) gives it its own deadline."""
    st = _state(context)
    env = await env_of(context)
    uid, name, _ = _share_units(st)[st.get("share_at", 0)]
    lines = _INVISIBLE.sub("", message_text(update)).strip().splitlines()
    m = _UNIT_DEADLINE.fullmatch(lines[-1]) if lines else None
    try:
        own = parse_deadline(m.group(1), local_date(env.now)) if m else None
        task = clean_text("\n".join(lines[:-1] if m else lines), f"{name}的分工任务", MAX_TEXT)
    except DomainError as exc:
        await reply(update, "chat/error.html.j2", message=exc.message, again=True)
        return None
    st["tasks"][uid] = task
    if own is not None:
        st["unit_deadlines"][uid] = (own.days, own.on.isoformat() if own.on else None)
    st["share_at"] += 1
    return await _ask_share(update, context)


cancel = cancel_handler("new", "chat/cancelled.html.j2", what="new")
timed_out = timeout_notice("new", "chat/timeout.html.j2", what="new", label="")


async def not_text(update: Update, context: Ctx) -> None:
    await reply(update, "chat/wrong_input.html.j2", kind="new")


async def stale_button(update: Update, context: Ctx) -> None:
    await update.callback_query.answer("此按钮已失效（立项已进入下一步或已结束）。如需立项请发送 /new", show_alert=True)


def register(app: Application) -> None:
    """The /new dialog, and the answer to the buttons of one that has ended (cancelled, timed out, done)."""
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private

    def tap(callback, prefix: str) -> CallbackQueryHandler:  # noqa: ANN001
        return CallbackQueryHandler(callback, pattern=rf"^new:{prefix}:[a-z0-9]{{1,12}}$")

    add_dialog(
        app,
        Dialog(
            entry_points=[CommandHandler("new", new_start, filters=private)],
            states={
                TITLE: [MessageHandler(text, got_title)],
                LABEL: [MessageHandler(text, got_label)],
                SHARES: [tap(shares_chosen, "sh")],
                SHARE_TEXT: [MessageHandler(text, share_typed), tap(shares_chosen, "sh")],
                REQUIREMENTS: [MessageHandler(text, got_requirements)],
                SOURCE: [tap(source_chosen, "src")],
                IMPORTANCE_: [tap(importance_chosen, "imp")],
                LEAD: [MessageHandler(text, lead_typed), tap(lead_chosen, "lead")],
                ASSIST: [MessageHandler(text, assist_typed), tap(assist_toggled, "as")],
                DEADLINE: [
                    MessageHandler(text, deadline_typed),
                    CallbackQueryHandler(deadline_default, pattern=r"^new:dl:def$"),
                    CallbackQueryHandler(day_off_chosen, pattern=r"^new:dl:(prev|keep)$"),
                ],
                CONFIDENTIAL: [tap(confidential_chosen, "conf")],
                WEEKLY: [tap(weekly_chosen, "wk")],
                FOLLOWER: [tap(follower_chosen, "fol")],
                LEADERS: [tap(leader_toggled, "ldr")],
                CONFIRM: [CallbackQueryHandler(confirmed, pattern=r"^new:ok$")],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[MessageHandler(~filters.COMMAND & private, not_text)],
            allow_reentry=True,
            timeout=lambda: TIMEOUT_SECONDS,
            name="new_item",
            label="登记督查事项（/new）",
            cancel_data="new:x",
            cancel=cancel,
        ),
    )
    app.add_handler(CallbackQueryHandler(stale_button, pattern=r"^new:"))
