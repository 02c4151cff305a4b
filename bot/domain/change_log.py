"""How a fixed mistake reads in an item's dossier and ``/item`` timeline (issue 12): a withdrawn or
deleted draft, a proposed change and the office head's decision, each with its reason."""

from __future__ import annotations

from typing import Any

KIND_LABELS = {
    "deadline": "变更办结时限",
    "requirements": "变更办理要求",
    "add_unit": "增加承办单位",
    "remove_unit": "撤出承办单位",
    "suspend": "中止办理",
    "resume": "恢复办理",
    "cancel": "撤销事项",
    "delete": "删除草稿",
    "unit_task": "变更单位分工",
    "unit_deadline": "变更单位时限",
}


def _detail(row: Any) -> str | None:
    """The change itself, in a few words: the new deadline, the unit, the working days paused."""
    before = row.before or {}
    if row.kind == "deadline" and row.new_due:
        old = before.get("due")
        return f"办结时限{'由 ' + old + ' ' if old else ''}改为 {row.new_due.isoformat()}"
    if row.kind in ("add_unit", "remove_unit") and row.unit is not None:
        return f"单位：{row.unit.name}" + ("（协办）" if row.kind == "add_unit" else "")
    if row.kind == "unit_task" and row.unit is not None:
        return f"{row.unit.name}的分工改为：{row.new_text}"
    if row.kind == "unit_deadline" and row.unit is not None and row.new_due:
        old = before.get("due")
        return f"{row.unit.name}的办结时限{'由 ' + old + ' ' if old else ''}改为 {row.new_due.isoformat()}"
    if row.kind == "requirements" and row.new_text:
        return f"新的办理要求：{row.new_text}"
    if row.kind == "resume" and before.get("paused_working_days"):
        return f"中止期间{before['paused_working_days']}个工作日不计入办理期限，各单位期限相应顺延"
    return None


def change_entry(kind: str, row: Any) -> tuple[str, str | None, str | None]:
    """``(label, text, note)`` of a ``withdraw``/``delete``/``change_request``/``change`` event;
    ``row`` is its ``ItemChange`` (None for a withdrawal)."""
    if kind == "withdraw":
        return "撤回立项申请", None, None
    what = KIND_LABELS.get(row.kind, row.kind) if row is not None else "删除草稿"
    if kind == "delete":
        return "删除草稿", row.reason if row is not None else None, None
    if kind == "change_request":
        return f"申请{what}", row.reason, _detail(row)
    if row.status == "approved":
        return f"同意{what}", row.reason, _detail(row)
    return f"不同意{what}", row.decision_note, f"申请理由：{row.reason}"
