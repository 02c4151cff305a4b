"""python-telegram-bot handlers, one module per conversation or role.

Thin by rule: parse the update, find out who is asking (from the database), call a service in
``bot.domain``, render the answer from a template.
"""

from telegram.ext import Application

from handlers import (
    archive,
    audit,
    buttons,
    dialogs,
    digest,
    exports,
    find,
    follow,
    gate,
    invite,
    items,
    outbox_view,
    people,
    records,
    replies,
    report,
    schedule,
    score,
    start,
    stats,
    views,
)


def register(app: Application) -> None:
    # Groups: -2 the gate (strangers, groups, edits, forged chats stop here); -1 the dialogs, behind
    # their guard (one open dialog per chat, /cancel); 0 commands and buttons, gate's fallbacks last.
    gate.register(app)
    dialogs.register(app)
    start.register(app)
    items.register(app)
    buttons.register(app)  # every workflow button declared in bot.domain.buttons
    records.register(app)  # /call /visit /bulletin dialog, 确认 / 有异议
    score.register(app)  # /score and its add dialog; puts [score.points] in force
    people.register(app)  # /people (office): deactivate, roles, unit, liaison hand-over
    report.register(app)  # /report: 督查工作情况报告, 同意报送 / 退回 dialog
    schedule.register(app)  # a .toml holiday schedule uploaded by the office: preview → 载入
    invite.register(app)
    views.register(app)
    archive.register(app)
    digest.register(app)  # /digest (leaders, office)
    outbox_view.register(app)  # /outbox (office), blocked/unblocked
    exports.register(app)  # /export /notice /dossier (office)
    find.register(app)  # /find 关键词 (everyone, what they may see)
    stats.register(app)  # /stats by unit, leader, source; 导出Excel (office, leaders)
    audit.register(app)  # /audit N (office head): who changed what on an item
    follow.register(app)  # /follow N [姓名] (office): the item's 跟踪专人 gets its notices
    replies.register(app)  # replies to a notice: progress
    gate.register_fallbacks(app)
