"""One word per idea in what people read: 「超期」 for overdue (never 「逾期」), the word the reminders use.

People compare the reminder, the score reason and the Excel sheet side by side; two words for one
state read as two states. Quoted user text (a bulletin someone typed) is theirs and not checked.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_overdue_is_always_chaoqi():
    offenders = []
    for folder in ("bot", "handlers", "store", "templates"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".j2", ".toml", ".txt", ".html"} and "逾期" in path.read_text(encoding="utf-8"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
