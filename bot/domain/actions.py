"""Button callback data: the one vocabulary shared by the notices (domain) and the chat UI (handlers).

Every button carries ``"<scope>:<verb>:<id>"`` — ASCII, at most 64 bytes (Telegram's limit), e.g.
``a:ack:17`` (acknowledge assignment 17) or ``i:ok:3`` (approve item 3). ``parse_action`` accepts
exactly the codes below with a positive decimal id and refuses everything else with
``MalformedAction``. A payload only says what the person *asked* for: every service re-checks in
the database who the person is and whether they may act on that record.

``needs`` tells the UI what to ask before calling the service:
``None`` — call at once; ``"text"`` — a reason or instruction; ``"text_files"`` — text and/or
attachments; ``"date_text"`` — a new date and a reason; ``"unit"`` — the unit to transfer to;
``"plan"`` — plan text and milestones (dates with titles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.errors import DomainError
from bot.outbox.queue import Button

MAX_DATA_BYTES = 64
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database


class MalformedAction(DomainError):
    """A callback payload that is not ours, is truncated or was tampered with."""


@dataclass(frozen=True)
class ActionSpec:
    code: str  # "<scope>:<verb>"
    target: str  # which record the id names
    label: str  # the Chinese button text
    needs: str | None  # what the UI must collect first (see the module docstring)
    service: str  # the service the handler calls


_SPECS = (
    # Items (office head: approve; office: submit, archive; anyone allowed: view)
    ActionSpec("i:ok", "item", "同意", None, "items.approve_item"),
    ActionSpec("i:no", "item", "退回", "text", "items.reject_item"),
    ActionSpec("i:sub", "item", "提交审批", None, "items.submit_item"),
    ActionSpec("i:arc", "item", "归档", None, "items.archive_item"),
    ActionSpec("i:v", "item", "查看详情", None, "views.item_detail"),
    # A unit's assignment (its own liaison)
    ActionSpec("a:ack", "assignment", "签收", None, "assignments.acknowledge"),
    ActionSpec("a:prg", "assignment", "反馈进展", "text_files", "assignments.add_progress"),
    ActionSpec("a:pln", "assignment", "工作方案", "plan", "assignments.submit_plan"),
    ActionSpec("a:ext", "assignment", "申请延期", "date_text", "assignments.request_extension"),
    ActionSpec("a:rpt", "assignment", "提交办结报告", "text_files", "assignments.submit_report"),
    ActionSpec("a:trf", "assignment", "申请转办", "text", "assignments.request_transfer"),
    ActionSpec("a:dec", "assignment", "无法协办", "text", "assignments.decline_assist"),
    ActionSpec("m:ok", "milestone", "节点已完成", None, "assignments.complete_milestone"),
    # Requests decided by the office
    ActionSpec("x:ok", "extension", "同意延期", None, "assignments.approve_extension"),
    ActionSpec("x:no", "extension", "不同意延期", "text", "assignments.reject_extension"),
    ActionSpec("t:ok", "transfer", "同意转办", "unit", "assignments.approve_transfer"),
    ActionSpec("t:no", "transfer", "不同意转办", "text", "assignments.reject_transfer"),
    # Completion reports (office review)
    ActionSpec("r:ok", "report", "审核通过", None, "review.approve_report"),
    ActionSpec("r:no", "report", "退回重办", "text", "review.return_report"),
    # Responsible leader
    ActionSpec("l:ok", "item", "同意", None, "review.leader_agree"),
    ActionSpec("l:ins", "item", "批示", "text", "review.leader_instruct"),
    # A phone supervision record (电话督查), answered by the unit's liaison
    ActionSpec("c:ok", "record", "确认", None, "records.confirm_record"),
    ActionSpec("c:no", "record", "有异议", "text", "records.dispute_record"),
    # The year's score table (the id is the year), approved by the office head in two steps
    ActionSpec("y:ask", "year", "审定年度考核结果", None, "ledger.check_approvable"),
    ActionSpec("y:ok", "year", "确认审定", None, "ledger.approve_year"),
)
ACTIONS: dict[str, ActionSpec] = {s.code: s for s in _SPECS}

_DATA = re.compile(r"([a-z]{1,3}):([a-z]{1,4}):([1-9][0-9]{0,9})")


@dataclass(frozen=True)
class Action:
    spec: ActionSpec
    target_id: int

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def data(self) -> str:
        return f"{self.spec.code}:{self.target_id}"


def action_data(code: str, target_id: int) -> str:
    """The callback data for ``code`` on record ``target_id``."""
    if code not in ACTIONS:
        raise ValueError(f"unknown action code {code!r}")
    if isinstance(target_id, bool) or not isinstance(target_id, int) or not 1 <= target_id <= MAX_ID:
        raise ValueError(f"bad target id {target_id!r}")
    data = f"{code}:{target_id}"
    assert len(data.encode()) <= MAX_DATA_BYTES
    return data


def parse_id(text: str | None) -> int | None:
    """A record id as a payload or a dialog button carries it (``"17"``); None unless it is plain
    ASCII digits naming a positive id the database can hold (a forged ``9999999999`` would make
    PostgreSQL's integer columns fail instead of simply finding nothing)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def button(code: str, target_id: int, label: str | None = None) -> Button:
    return Button(label or ACTIONS[code].label, action_data(code, target_id))


def parse_action(data: str | bytes | None) -> Action:
    """The action a button asks for; ``MalformedAction`` for anything that is not exactly ours."""
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError:
            data = None
    if not isinstance(data, str) or not data or len(data.encode("utf-8")) > MAX_DATA_BYTES:
        raise MalformedAction("按钮已失效，请重新打开事项后再操作")
    m = _DATA.fullmatch(data)
    if m is None:
        raise MalformedAction("按钮已失效，请重新打开事项后再操作")
    spec = ACTIONS.get(f"{m.group(1)}:{m.group(2)}")
    target_id = int(m.group(3))
    if spec is None or target_id > MAX_ID:
        raise MalformedAction("按钮已失效，请重新打开事项后再操作")
    return Action(spec, target_id)
