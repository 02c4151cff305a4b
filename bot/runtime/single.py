"""One process per SQLite file: a second ``python -m bot run`` on the same file is refused at start.

SQLite has no advisory locks across processes that outlive a transaction, and two bots on one
file would both poll (409 Conflict), both run the sweeps and both drain the outbox. So the runner
holds an exclusive ``fcntl`` lock on ``<database>.lock`` for its lifetime; the kernel drops it
when the process ends, however it ends (kill -9 included), so a stale lock file never blocks a
restart. Several instances need PostgreSQL (``bot.runtime.leader``).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path


class AlreadyRunning(Exception):
    """Another process holds the database's lock; ``str`` is the one Chinese line for the person."""


def lock_path(database: str) -> Path:
    return Path(database).resolve().with_name(Path(database).name + ".lock")


def hold(database: str) -> int | None:
    """Take the lock or raise ``AlreadyRunning``; returns the descriptor to keep open.

    None when the lock file cannot be written beside the database: SQLite cannot open the database
    in that folder either, and its own error (``bot.kernel.fatal``) names the database file.
    """
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "未知"
        os.close(fd)
        raise AlreadyRunning(
            f"启动失败：SQLite 数据库文件 {Path(database).resolve()} 已由另一个机器人进程使用（进程号 {holder}）。"
            "同一个 SQLite 文件只能由一个进程运行；如需同时运行多个实例，请改用 PostgreSQL。"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
