"""Faults a county IT person meets on the first day: one Chinese line, exit 2, never the token.

Each fault is built for real and the command runs in-process (``bot.__main__.main``):
- a wrong token: the emulator's HTTP server answers 401, as Telegram does;
- Telegram unreachable: ``base_url`` on a port nothing listens on;
- PostgreSQL unreachable: a URL on a closed port; a missing database (needs DUBAN_TEST_PG_URL);
- a read-only folder or SQLite file. Tests run as root in CI, and permissions do not stop root, so
  besides chmod the folder or file gets the immutable attribute (``chattr +i``), which stops root
  too; the folder that cannot be created is a path under a regular file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.__main__ import main
from bot.emulator import Emulator
from bot.emulator.http import EmulatorServer
from store.db import Database, async_url
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "987654321:AAFsecretTOKENthatMustNeverLeak_x-42"  # what the config says
EMULATOR_TOKEN = "123456789:AAHtheBotsRealTokenAtTheEmulator-000"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING) ")


@pytest.fixture(autouse=True)
def restore_logging():
    """``run`` configures the root logger; leave it as the next test expects it."""
    root = logging.getLogger()
    handlers, level, factory = root.handlers[:], root.level, logging.getLogRecordFactory()
    yield
    root.handlers[:], root.level = handlers, level
    logging.setLogRecordFactory(factory)
    logging.captureWarnings(False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def emulator_url():
    """The emulator's HTTP server in a thread of its own: ``run`` owns the test thread's loop."""
    started, box = threading.Event(), {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        server = EmulatorServer(Emulator(token=EMULATOR_TOKEN, limits=None), port=0)
        loop.run_until_complete(server.start())
        box["url"], box["loop"], box["stop"] = server.url, loop, asyncio.Event()
        started.set()
        loop.run_until_complete(box["stop"].wait())
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10), "the emulator's HTTP server did not start"
    yield box["url"]
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(10)


def write_config(tmp_path: Path, *, db_url: str, base_url: str = "https://api.telegram.org/bot",
                 token: str = TOKEN) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[telegram]\ntoken = "{token}"\nbot_username = "duban_test_bot"\nbase_url = "{base_url}"\n'
                   f'[database]\nurl = "{db_url}"\n[storage]\nfiles_dir = "{tmp_path / "files"}"\n',
                   encoding="utf-8")
    return cfg


def run_cli(capsys, caplog, *argv: str) -> tuple[int, str]:
    caplog.set_level(logging.DEBUG)
    status = main(list(argv))
    out, err = capsys.readouterr()
    everything = out + err + "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert TOKEN not in everything and EMULATOR_TOKEN not in everything
    assert "Traceback" not in out + err
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    # ``run`` logs its start-up (INFO lines with a timestamp); the fault itself is one more line.
    said = [line for line in err.splitlines() if not LOG_LINE.match(line)]
    assert len(said) <= 1, err
    return status, "".join(said)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@contextlib.contextmanager
def read_only(path: Path):
    """Read-only for everyone, root included (chmod for others, the immutable attribute for root)."""
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    immutable = False
    try:
        if os.geteuid() == 0:
            if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)],
                                                            capture_output=True).returncode != 0:
                pytest.skip("running as root on a file system without chattr +i: root ignores permissions")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


async def migrated(url: str) -> None:
    db = Database(url)
    await db.upgrade()
    await db.dispose()


# --- Telegram --------------------------------------------------------------------------------


def test_a_wrong_token_is_one_line_without_the_token(tmp_path, capsys, caplog, emulator_url):
    cfg = write_config(tmp_path, db_url=sqlite_url(tmp_path / "db.sqlite3"), base_url=f"{emulator_url}/bot")
    status, err = run_cli(capsys, caplog, "run", "--config", str(cfg))
    assert status == 2
    assert err.startswith("启动失败：Telegram 拒绝了机器人令牌（401 未授权）") and "[telegram] token" in err


def test_an_unreachable_telegram_is_one_line(tmp_path, capsys, caplog):
    port = closed_port()
    cfg = write_config(tmp_path, db_url=sqlite_url(tmp_path / "db.sqlite3"), base_url=f"http://127.0.0.1:{port}/bot")
    status, err = run_cli(capsys, caplog, "run", "--config", str(cfg))
    assert status == 2
    assert err == (f"启动失败：无法连接 Telegram（127.0.0.1:{port}）。请检查本机网络、防火墙或代理，"
                   "以及配置文件 [telegram] base_url。")


# --- The database, in run and in every command that opens it ----------------------------------

COMMANDS = {
    "run": ("run",),
    "db": ("db", "upgrade"),
    "import": ("import", "units", str(ROOT / "docs/examples/units.csv")),
    "invite": ("invite", "--role", "县领导", "--name", "张三"),
    "workdays": ("workdays", "load", str(ROOT / "docs/schedule-example-2027.toml")),
    "export": ("export", "items", "OUT", "--from", "2026-01-01", "--to", "2026-12-31"),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_postgresql_is_one_line_in_every_command(command, tmp_path, capsys, caplog):
    port = closed_port()
    cfg = write_config(tmp_path, db_url=f"postgresql://duban:pw-{TOKEN}@127.0.0.1:{port}/duban")
    argv = [str(tmp_path / "out.xlsx") if a == "OUT" else a for a in COMMANDS[command]]
    status, err = run_cli(capsys, caplog, *argv, "--config", str(cfg))
    assert status == 2, err
    assert err == (f"启动失败：无法连接数据库（127.0.0.1:{port}）。请检查 PostgreSQL 是否已启动、本机能否访问，"
                   "以及配置文件 [database] url 的主机和端口。")


@pytest.mark.skipif(not PG_URL, reason="needs a PostgreSQL server (DUBAN_TEST_PG_URL)")
@pytest.mark.parametrize("command", ["run", "db", "invite"])
def test_a_missing_postgresql_database_is_named(command, tmp_path, capsys, caplog):
    url = make_url(async_url(PG_URL)).set(drivername="postgresql", database="duban_no_such_db")
    cfg = write_config(tmp_path, db_url=url.render_as_string(hide_password=False))
    status, err = run_cli(capsys, caplog, *COMMANDS[command], "--config", str(cfg))
    assert status == 2, err
    assert err.startswith("启动失败：数据库「duban_no_such_db」不存在") and "createdb duban_no_such_db" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_folder_that_cannot_be_created(command, tmp_path, capsys, caplog):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be")
    cfg = write_config(tmp_path, db_url=sqlite_url(blocker / "duban.sqlite3"))
    argv = [str(tmp_path / "out.xlsx") if a == "OUT" else a for a in COMMANDS[command]]
    status, err = run_cli(capsys, caplog, *argv, "--config", str(cfg))
    assert status == 2, err
    assert err.startswith(f"启动失败：无法创建数据库文件夹 {blocker}：路径中有一段是文件而不是文件夹")


@pytest.mark.parametrize("command", ["run", "db", "invite"])
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # SQLite's thread ends cleanly
def test_a_read_only_database_folder(command, tmp_path, capsys, caplog):
    folder = tmp_path / "data"
    folder.mkdir()
    cfg = write_config(tmp_path, db_url=sqlite_url(folder / "duban.sqlite3"))
    with read_only(folder):
        status, err = run_cli(capsys, caplog, *COMMANDS[command], "--config", str(cfg))
    assert status == 2, err
    assert err.startswith(f"启动失败：无法打开 SQLite 数据库文件 {folder / 'duban.sqlite3'}")


@pytest.mark.parametrize("command", ["run", "invite"])
def test_a_read_only_database_file(command, tmp_path, capsys, caplog):
    path = tmp_path / "duban.sqlite3"
    asyncio.run(migrated(sqlite_url(path)))
    for extra in tmp_path.glob("duban.sqlite3-*"):  # a clean shutdown leaves no -wal/-shm behind
        extra.unlink()
    cfg = write_config(tmp_path, db_url=sqlite_url(path))
    with read_only(path):
        status, err = run_cli(capsys, caplog, *COMMANDS[command], "--config", str(cfg))
    assert status == 2, err
    assert err.startswith(f"启动失败：SQLite 数据库文件 {path} 是只读的")
