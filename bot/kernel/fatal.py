"""The faults a county IT person can fix, each as one Chinese line: the cause and what to check.

``python -m bot`` maps these to exit status 2 without a traceback (a traceback is for bugs, and
PTB's InvalidToken would carry the token into it). ``explain`` returns None for anything else.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from telegram.error import InvalidToken, NetworkError

from bot.kernel.config import TOKEN_ENV, Settings

_FOLDER_PROBLEMS = {
    errno.ENOTDIR: "路径中有一段是文件而不是文件夹",
    errno.EEXIST: "路径中有一段是文件而不是文件夹",
    errno.EACCES: "运行用户没有写权限",
    errno.EPERM: "运行用户没有写权限",
    errno.EROFS: "所在磁盘是只读的",
    errno.ENOSPC: "磁盘已满",
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything linked to it (SQLAlchemy's ``orig``, causes, contexts)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (getattr(e, "orig", None), e.__cause__, e.__context__) if isinstance(x, BaseException)]


def _db_target(settings: Settings | None) -> tuple[str, str, str]:
    """(backend, where, name) of the configured database, never its password."""
    if settings is None:
        return "", "", ""
    try:
        url = make_url(settings.database.url)
    except ArgumentError:
        return "", "", ""
    if url.drivername.startswith("sqlite"):
        return "sqlite", str(Path(url.database or "").resolve()) if url.database else "", url.database or ""
    return "postgresql", f"{url.host or 'localhost'}:{url.port or 5432}", url.database or ""


def _telegram_host(settings: Settings | None) -> str:
    return (urlsplit(settings.telegram.base_url).netloc if settings else "") or "api.telegram.org"


def explain(exc: BaseException, settings: Settings | None = None) -> str | None:
    """One line for a known start-up fault, or None when ``exc`` is a bug (or unknown)."""
    for e in _chain(exc):
        line = _telegram(e, settings) or _database(e, settings)
        if line:
            return line
    return None


def _telegram(e: BaseException, settings: Settings | None) -> str | None:
    if isinstance(e, InvalidToken):
        return (
            f"启动失败：Telegram 拒绝了机器人令牌（401 未授权）。请检查配置文件 [telegram] token"
            f"（或环境变量 {TOKEN_ENV}）是否与 @BotFather 给出的令牌完全一致。"
        )
    if isinstance(e, NetworkError):  # TimedOut included
        return (
            f"启动失败：无法连接 Telegram（{_telegram_host(settings)}）。请检查本机网络、防火墙或代理，"
            "以及配置文件 [telegram] base_url。"
        )
    return None


def _database(e: BaseException, settings: Settings | None) -> str | None:
    backend, where, name = _db_target(settings)
    text = str(e)
    kind = type(e).__name__
    if kind == "InvalidCatalogNameError" or ("database" in text and "does not exist" in text):
        return (
            f"启动失败：数据库「{name}」不存在（{where}）。请先创建它（如 createdb {name}），"
            "或检查配置文件 [database] url 中的数据库名。"
        )
    if kind in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
        return f"启动失败：数据库（{where}）拒绝登录。请检查配置文件 [database] url 中的用户名和密码。"
    if isinstance(e, OSError) and e.filename is not None and e.errno in _FOLDER_PROBLEMS:
        return (
            f"启动失败：无法创建数据库文件夹 {e.filename}：{_FOLDER_PROBLEMS[e.errno]}。"
            "请检查配置文件 [database] url 的路径，以及运行用户对该文件夹的写权限。"
        )
    if isinstance(e, (ConnectionError, socket.gaierror, TimeoutError)) or kind in (
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "TooManyConnectionsError",
    ):
        return (
            f"启动失败：无法连接数据库（{where or 'PostgreSQL'}）。请检查 PostgreSQL 是否已启动、"
            "本机能否访问，以及配置文件 [database] url 的主机和端口。"
        )
    if type(e).__module__ == "sqlite3" or backend == "sqlite" and kind == "OperationalError":
        return _sqlite(text, where)
    return None


def _sqlite(text: str, path: str) -> str | None:
    shown = path or "（见配置文件 [database] url）"
    if "readonly" in text or "read-only" in text:
        return (
            f"启动失败：SQLite 数据库文件 {shown} 是只读的。请检查运行用户对该文件及所在文件夹有写权限，"
            "且磁盘不是只读挂载。"
        )
    if "unable to open database file" in text:
        return (
            f"启动失败：无法打开 SQLite 数据库文件 {shown}。请检查所在文件夹存在，且运行用户可在其中"
            "创建文件（SQLite 还需在同一文件夹写 -wal、-shm 文件）。"
        )
    if "locked" in text:
        return f"启动失败：SQLite 数据库文件 {shown} 被其他程序锁住。请确认没有另一个机器人实例在使用它。"
    if "disk is full" in text or "disk I/O error" in text:
        return f"启动失败：写入 SQLite 数据库文件 {shown} 时磁盘出错（已满或损坏）。请检查磁盘空间和磁盘状态。"
    if "not a database" in text:
        return f"启动失败：{shown} 不是 SQLite 数据库文件。请检查配置文件 [database] url 的路径。"
    return None
