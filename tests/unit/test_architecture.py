"""The directions the design fixes, checked on the source: a wrong import fails here, not in review."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in imported_modules(path):
            if name.startswith(allowed):
                continue
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return sorted(found)


@pytest.mark.parametrize(
    ("folder", "forbidden", "allowed"),
    [
        ("bot/domain", ("telegram", "handlers"), ()),
        ("store", ("bot", "handlers", "telegram"), ()),
        ("bot/emulator", ("bot", "handlers", "store"), ("bot.emulator",)),
    ],
)
def test_import_directions(folder, forbidden, allowed):
    assert offenders(folder, forbidden, allowed) == []


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    bad = tmp_path / "bot" / "domain"
    bad.mkdir(parents=True)
    (bad / "x.py").write_text("from telegram import Bot\nimport handlers.gate\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert offenders("bot/domain", ("telegram", "handlers")) == [
        "bot/domain/x.py imports handlers.gate", "bot/domain/x.py imports telegram"]
