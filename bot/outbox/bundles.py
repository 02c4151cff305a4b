"""Several queued parts for one person as one message: texts joined, keyboards stacked.

Pure data (no Telegram, no clock): ``bot.domain.notices`` decides which parts are due. A message
keeps under Telegram's 4,096 characters: parts that would not fit start another message.
When more than one part carries action buttons, each button names its item, so 签收 under a
bundle of two notices says which one it acknowledges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from store.models import OutboxMessage

MAX_TEXT = 3800  # Telegram's limit is 4,096 characters; the separators and labels need room
SEPARATOR = "\n\n━━━━━━━━━━\n\n"


@dataclass
class Merged:
    rows: list[OutboxMessage] = field(default_factory=list)
    text: str = ""
    buttons: list | None = None
    item_ids: list[int] | None = None


def _labelled(row: OutboxMessage, tag: str | None) -> list:
    if not row.buttons:
        return []
    if tag is None:
        return [list(r) for r in row.buttons]
    return [
        [{**b, "text": b["text"] if b["text"].startswith(tag) else f"{tag} {b['text']}"} for b in r]
        for r in row.buttons
    ]


def merge_parts(parts: list[OutboxMessage], tags: dict[int, str] | None = None) -> list[Merged]:
    """Group ``parts`` (one person's, oldest first) into as few messages as fit.

    ``tags`` maps a part's id to a short name of its item (e.g. "3号"), put before its buttons
    when several parts of a message carry buttons."""
    groups: list[Merged] = []
    for row in parts:
        if row.kind != "text":  # photos and documents travel alone
            groups.append(Merged([row]))
            continue
        current = groups[-1] if groups and groups[-1].rows[0].kind == "text" else None
        size = sum(len(r.text) + len(SEPARATOR) for r in current.rows) if current else 0
        if current is None or size + len(row.text) > MAX_TEXT:
            groups.append(Merged([row]))
        else:
            current.rows.append(row)
    for g in groups:
        with_buttons = [r for r in g.rows if r.buttons]
        tag_them = len(with_buttons) > 1
        g.text = SEPARATOR.join(r.text for r in g.rows)
        rows: list = []
        for r in g.rows:
            rows.extend(_labelled(r, (tags or {}).get(r.id) if tag_them else None))
        g.buttons = rows[:100] or None  # Telegram allows 100 buttons in a keyboard
        ids: list[int] = []
        for r in g.rows:
            for i in r.item_ids or []:
                if i not in ids:
                    ids.append(i)
        g.item_ids = ids or None
    return groups
