"""The directions the design fixes, checked on the source: a wrong import fails here, not in review.

Imports are read with ``ast`` (function-local imports count too, so a lazy import cannot hide a
wrong direction). Relative imports are resolved against the file's package.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The kernel is imported by everything, so it imports none of the layers above it.
KERNEL_FORBIDDEN = ("bot.domain", "bot.outbox", "bot.documents", "bot.runtime", "bot.cli", "bot.demo",
                    "bot.emulator", "handlers", "store")
# The domain is the rules of the work: no Telegram, no output files, no process wiring.
DOMAIN_FORBIDDEN = ("telegram", "handlers", "bot.documents", "bot.runtime", "bot.cli", "bot.demo",
                    "bot.emulator")


def _package_of(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1]  # a module's package, and for __init__.py the package itself


def _imports(path: Path) -> list[tuple[list[str], bool]]:
    """Each import statement of ``path`` as the modules it may load (``from bot import domain``
    may load bot and bot.domain), with whether it sits under ``if TYPE_CHECKING:``."""
    found: list[tuple[list[str], bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(([alias.name], typing_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(path)
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append(([module] + [f"{module}.{alias.name}" for alias in node.names], typing_only))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(path: Path) -> set[str]:
    return {names[0] for names, _ in _imports(path)}


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offenders(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = (),
              typing_allowed: bool = False) -> list[str]:
    """``path imports name`` for every forbidden import under ``folder`` (each module once per file)."""
    found = set()
    for path in sorted((ROOT / folder).rglob("*.py")):
        for names, typing_only in _imports(path):
            if _matches(names[0], allowed) or (typing_allowed and typing_only):
                continue
            bad = next((name for name in names if _matches(name, forbidden)), None)
            if bad is not None:
                found.add(f"{path.relative_to(ROOT)} imports {bad}")
    return sorted(found)


@pytest.mark.parametrize(
    ("folder", "forbidden", "allowed"),
    [
        ("bot/kernel", KERNEL_FORBIDDEN, ()),
        ("bot/domain", DOMAIN_FORBIDDEN, ()),
        ("store", ("bot", "handlers", "telegram"), ()),
        ("bot/emulator", ("bot", "handlers", "store"), ("bot.emulator",)),
        # Output documents are files made from the domain's views: no Telegram, no process wiring.
        ("bot/documents", ("telegram", "handlers", "bot.runtime", "bot.cli"), ()),
    ],
    ids=["kernel", "domain", "store", "emulator", "documents"],
)
def test_import_directions(folder, forbidden, allowed):
    assert offenders(folder, forbidden, allowed) == []


def test_handlers_import_the_store_only_for_types():
    """Handlers reach the database through the domain; store names appear only in annotations."""
    assert offenders("handlers", ("store",), typing_allowed=True) == []


def test_one_office_time_zone():
    """``OFFICE_TZ`` in bot.kernel.clock is the only ZoneInfo("Asia/Shanghai") in the code."""
    places = []
    for folder in ("bot", "handlers", "store"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if 'ZoneInfo("Asia/Shanghai")' in path.read_text(encoding="utf-8"):
                places.append(str(path.relative_to(ROOT)))
    assert places == ["bot/kernel/clock.py"]


def test_the_office_time_zone_is_imported_from_the_kernel():
    """Not through a module that happens to use it (bot.domain.workflow did hold it once)."""
    found = []
    for folder in ("bot", "handlers", "store", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for names, _ in _imports(path):
                if any(n.endswith(".OFFICE_TZ") for n in names[1:]) and names[0] != "bot.kernel.clock":
                    found.append(f"{path.relative_to(ROOT)} imports OFFICE_TZ from {names[0]}")
    assert found == []


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    bad = tmp_path / "bot" / "domain"
    bad.mkdir(parents=True)
    (bad / "x.py").write_text(
        "from telegram import Bot\nimport handlers.gate\n"
        "def f():\n    from bot.documents.chart import draw\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert offenders("bot/domain", DOMAIN_FORBIDDEN) == [
        "bot/domain/x.py imports bot.documents.chart", "bot/domain/x.py imports handlers.gate",
        "bot/domain/x.py imports telegram"]


def test_the_checker_lets_typing_only_imports_through(tmp_path, monkeypatch):
    folder = tmp_path / "handlers"
    folder.mkdir()
    (folder / "x.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from store.models import Person\n"
        "else:\n    import store.db\n"
        "from . import y\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert offenders("handlers", ("store",), typing_allowed=True) == ["handlers/x.py imports store.db"]
    # ``from . import y`` resolves to the package handlers (and may load handlers.y).
    assert imported_modules(folder / "x.py") == {"typing", "store.models", "store.db", "handlers"}
