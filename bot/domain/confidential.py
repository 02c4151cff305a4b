"""Confidential items (涉密, regulation §9(五)): what of them may travel through the messenger.

The regulation keeps a confidential item's documents off open channels, so the chat never carries
its content, in either direction:

* ``/new`` asks 涉密 first; a confidential item gets no title or requirements typed in chat, only a
  short neutral label (``clean_label``), stored as its title with the suffix 「（涉密）」, and a
  fixed text in place of the requirements (``OFFLINE_REQUIREMENTS``): the 文件 itself goes round
  on paper (线下流转).
* Messages and views show a confidential item as its number and that label (``shown_label``). A
  title that does not end with the suffix (an item registered before labels existed, or by a
  script) may be real content, so it is never shown: the number alone stands for it.
* A unit reports on paper and confirms it in one tap: 「已线下报送进展」 / 「已线下报送办结报告」
  (``progress_button`` / ``report_button``, buttons a:olp / a:olr) record a progress entry or a
  completion report with a fixed text, the person and the time, so deadlines, the weekly
  feedback and the score count them like any other; the office reviews the report as usual.
  Text, photos or files sent for a confidential item are refused (``NO_CONTENT``) and not kept.
"""

from __future__ import annotations

import re

from bot.domain.actions import button
from bot.domain.errors import DomainError
from bot.outbox.queue import Button

LABEL_SUFFIX = "（涉密）"
MAX_LABEL = 12  # characters typed, before the suffix: 「县委交办事项」, 「重点项目专项工作」
OFFLINE_REQUIREMENTS = "涉密事项：文件线下流转，办理要求以纸质文件为准。"
OFFLINE_PROGRESS = "已线下报送进展"
OFFLINE_REPORT = "已线下报送办结报告"
NO_CONTENT = "涉密事项请勿在此发送内容，请线下报送。"
CONFIDENTIAL_NAME = "涉密事项"  # what stands for an item whose title may not be shown

# What a neutral label may not contain: digits, sentence punctuation or a second line are the
# marks of content (a place, a sum, a date, a sentence), not of a name for the register.
_CONTENT_MARKS = re.compile(r"[0-9０-９，,。.;；:：!！?？、@#%/\\]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2060\ufeff]")


def clean_label(text: str | None) -> str:
    """The neutral label typed for a confidential item, stored with the suffix; DomainError otherwise."""
    raw = _INVISIBLE.sub("", text or "").strip()
    label = " ".join(raw.split()).removesuffix(LABEL_SUFFIX).strip()
    if not label:
        raise DomainError("简称不能为空，请输入如“县委交办事项”")
    if len(label) > MAX_LABEL or "\n" in raw or _CONTENT_MARKS.search(label):
        raise DomainError(
            f"涉密事项只登记一个简短的中性简称（{MAX_LABEL}字以内，不含数字和标点），"
            "如“县委交办事项”；事项内容请勿在此输入，文件线下流转。"
        )
    if not any(ch.isalpha() for ch in label):
        raise DomainError(f"简称要有文字，「{label}」不能作为简称，请输入如“县委交办事项”")
    return label + LABEL_SUFFIX


def is_label(title: str | None) -> bool:
    """Whether ``title`` is a neutral label ``clean_label`` would have stored."""
    if not title or not title.endswith(LABEL_SUFFIX):
        return False
    try:
        return clean_label(title) == title
    except DomainError:
        return False


def shown_label(title: str | None, confidential: bool) -> str | None:
    """What a message may call the item besides its number: the title, or a confidential item's
    neutral label; None when a confidential item's title may be content."""
    if not confidential:
        return title
    return title if is_label(title) else None


def display_name(title: str | None, confidential: bool) -> str:
    """``shown_label``, or 「涉密事项」 when nothing may be shown."""
    return shown_label(title, confidential) or CONFIDENTIAL_NAME


def refuse_content(confidential: bool) -> None:
    """Text or files for a confidential item are refused and not kept (they belong on paper)."""
    if confidential:
        raise DomainError(NO_CONTENT)


def progress_button(assignment_id: int, confidential: bool, label: str | None = None) -> Button:
    """反馈进展, or for a confidential item the one-tap 已线下报送进展."""
    if confidential:
        return button("a:olp", assignment_id, label.replace("反馈进展", OFFLINE_PROGRESS) if label else None)
    return button("a:prg", assignment_id, label)


def report_button(assignment_id: int, confidential: bool) -> Button:
    """提交办结报告, or for a confidential item the one-tap 已线下报送办结报告."""
    return button("a:olr" if confidential else "a:rpt", assignment_id)
