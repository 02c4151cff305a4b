"""The command line: ``python -m bot {run,demo,db,import,invite,workdays,export}``.

Every failure a person can fix is one Chinese line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from bot.kernel.config import ConfigError, Settings, load_settings
from bot.kernel.logs import protect_secrets, redact

DEFAULT_CONFIG = "config.toml"


# argparse's own messages (Python 3.11–3.13 wording) → Chinese; anything unknown is kept as is.
_ARGPARSE_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"argument command: invalid choice: '?([^']*)'? \(choose from (.*)\)", "未知的命令「\\1」（可用的命令：\\2）"),
        (
            r"argument (\S+): invalid choice: '?([^']*)'? \(choose from (.*)\)",
            "参数 \\1 的取值「\\2」无效（可选：\\3）",
        ),
        (r"argument (\S+): invalid int value: '?([^']*)'?", "参数 \\1 应为整数，收到「\\2」"),
        (r"argument (\S+): invalid (\w+) value: '?([^']*)'?", "参数 \\1 的取值「\\3」无效"),
        (r"argument (\S+): expected one argument", "参数 \\1 后缺少取值"),
        (r"argument (\S+): expected at most one argument", "参数 \\1 最多接受一个取值"),
        (r"argument (\S+): expected at least one argument", "参数 \\1 至少需要一个取值"),
        (r"argument (\S+): expected (\d+) arguments?", "参数 \\1 需要 \\2 个取值"),
        (r"argument (\S+): ignored explicit argument '?([^']*)'?", "选项 \\1 不接受取值「\\2」"),
        (r"argument (\S+): not allowed with argument (\S+)", "参数 \\1 不能与 \\2 同时使用"),
        (r"the following arguments are required: (.*)", "缺少必填的参数：\\1"),
        (r"one of the arguments (.*) is required", "以下参数须填写其一：\\1"),
        (r"unrecognized arguments: (.*)", "无法识别的参数：\\1"),
        (r"ambiguous option: (\S+) could match (.*)", "选项 \\1 有歧义，可能是：\\2"),
    )
)


def chinese_message(message: str) -> str:
    """One of argparse's English messages in Chinese (choices listed with 、, without quotes)."""
    for pattern, replacement in _ARGPARSE_MESSAGES:
        m = pattern.fullmatch(message.strip())
        if m:
            text = m.expand(replacement)
            return re.sub(r"'([^']*)'", r"\1", text).replace(", ", "、")
    return message


class _ChineseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None) -> None:  # noqa: ANN001
        return super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class ChineseArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that speaks Chinese: usage, headings, -h and its errors (one line, status 2).

    argparse's texts come from its own gettext catalogue, which has no Chinese; translating at the
    edges (headings, the help option, ``error``) keeps argparse itself untouched."""

    def __init__(self, *args, add_help: bool = True, **kwargs) -> None:  # noqa: ANN002, ANN003
        kwargs.setdefault("formatter_class", _ChineseHelpFormatter)
        kwargs["add_help"] = False  # ours is added below, in Chinese
        super().__init__(*args, **kwargs)
        self._positionals.title = "位置参数"
        self._optionals.title = "选项"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示本帮助并退出")

    def error(self, message: str) -> NoReturn:  # argparse's own errors, in one line with status 2
        self.exit(2, f"命令行参数有误：{chinese_message(message)}（使用 --help 查看用法）\n")


_Parser = ChineseArgumentParser


def _settings(args: argparse.Namespace, *, may_create_database: bool = False) -> Settings:
    """The named config file, else ./config.toml if present, else the built-in defaults.

    A SQLite file that does not exist is created only by ``db upgrade`` or in a fresh folder (a
    first start): see ``missing_database``."""
    if args.config:
        settings = load_settings(args.config)
    elif Path(DEFAULT_CONFIG).exists():
        settings = load_settings(DEFAULT_CONFIG)
    else:
        settings = load_settings(None)
    protect_secrets(settings.telegram.token, settings.telegram.webhook.secret)
    args.settings = settings  # for explaining a fault later
    if not may_create_database:
        problem = missing_database(settings)
        if problem is not None:
            raise ConfigError(problem)
    return settings


def _sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite://`` URL names; None for PostgreSQL, in-memory databases or a bad URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def missing_database(settings: Settings) -> str | None:
    """Why a SQLite file that does not exist must not be created silently, or None.

    A typo in ``[database] url`` would otherwise start the bot on a new, empty database. A missing
    file is suspect when its folder already holds another SQLite database, or when the files
    folder already holds files (the bot ran here before); a fresh folder is a first start, and
    ``python -m bot db upgrade`` always creates the file."""
    path = _sqlite_path(settings.database.url)
    if path is None or path.exists():
        return None
    folder = path.parent
    others = sorted(p for p in folder.iterdir() if p.is_file() and _is_sqlite_file(p)) if folder.is_dir() else []
    files_dir = Path(settings.storage.files_dir)
    if others:
        why = f"而同一文件夹中已有数据库文件 {others[0].name}"
    elif files_dir.is_dir() and any(files_dir.iterdir()):
        why = f"而附件文件夹 {files_dir.resolve()} 中已有文件（机器人在此运行过）"
    else:
        return None
    return (
        f"启动失败：SQLite 数据库文件 {path.resolve()} 不存在，{why}。请检查配置文件 [database] url 的路径"
        "是否写错；如确需新建空数据库，请先运行 python -m bot db upgrade。"
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.runtime.runner import run

    return run(_settings(args))


def _cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo.runner import main as demo_main

    return demo_main(port=args.port, data_dir=Path(args.data_dir))


def _cmd_db(args: argparse.Namespace) -> int:
    from store.db import Database

    settings = _settings(args, may_create_database=True)  # the one command that creates a database

    async def upgrade() -> str | None:
        db = Database(settings.database.url)
        try:
            await db.upgrade()
            return await db.current_revision()
        finally:
            await db.dispose()

    revision = asyncio.run(upgrade())
    print(f"数据库已升级到最新版本（{revision}）")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from bot.domain.directory_import import run_import
    from store.db import Database

    settings = _settings(args)

    async def go() -> int:
        db = Database(settings.database.url)
        try:
            await db.upgrade()
            return await run_import(
                db,
                args.kind,
                Path(args.file),
                sys.stdout,
                sys.stderr,
                full=args.full,
                confirm=_confirm_leaving(args.yes),
                keep_telegram_ids=settings.office.admins,
            )
        finally:
            await db.dispose()

    return asyncio.run(go())


def _confirm_leaving(yes: bool):  # noqa: ANN202
    """How a full import asks before marking people as leaving: --yes, or "y" typed at a terminal
    (None: there is nobody to ask, the import refuses)."""
    if yes:
        return lambda: True
    if not sys.stdin.isatty():
        return None
    return lambda: (
        input("确认将以上人员标记为离岗？输入 y 确认，其他任意键取消：").strip().lower() in ("y", "yes", "是")
    )


def _cmd_invite(args: argparse.Namespace) -> int:
    from bot.cli.invite import invite

    return asyncio.run(invite(_settings(args), args.role, args.unit, args.name, sys.stdout, sys.stderr))


def _cmd_workdays(args: argparse.Namespace) -> int:
    from bot.cli.workdays import USAGE, workdays_command

    rest = list(args.rest)
    if "-h" in rest or "--help" in rest:  # help needs no settings and no database
        print(USAGE)
        return 0
    if "--config" in rest:  # REMAINDER swallows options written after the date
        i = rest.index("--config")
        if i + 1 >= len(rest):
            print("命令行参数有误：--config 后缺少文件名", file=sys.stderr)
            return 2
        args.config = rest[i + 1]
        del rest[i : i + 2]
    return asyncio.run(workdays_command(_settings(args), rest, sys.stdout, sys.stderr))


def _cmd_export(args: argparse.Namespace) -> int:
    from bot.documents.excel import export_command
    from bot.kernel.clock import Clock

    return asyncio.run(
        export_command(
            _settings(args),
            args.kind,
            args.file,
            year=args.year,
            start=args.start,
            end=args.end,
            item=args.item,
            now=Clock().now(),
            out=sys.stdout,
            err=sys.stderr,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description="督办助手：县政府督查督办 Telegram 机器人")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", help=f"配置文件（默认 {DEFAULT_CONFIG}，不存在时使用默认设置）")
        return p

    with_config(sub.add_parser("run", help="连接 Telegram 运行机器人")).set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="在本机沙盒中运行（无需令牌、无需联网）")
    demo.add_argument("--port", type=int, default=8080, help="沙盒网页端口（默认 8080）")
    demo.add_argument("--data-dir", default="demo-data", help="沙盒数据目录（每次启动重置）")
    demo.set_defaults(func=_cmd_demo)

    db = with_config(sub.add_parser("db", help="数据库维护"))
    db.add_argument("action", choices=["upgrade"], help="upgrade：升级数据库结构")
    db.set_defaults(func=_cmd_db)

    imp = with_config(sub.add_parser("import", help="从 Excel/CSV 导入单位或人员"))
    imp.add_argument("kind", choices=["units", "people"], help="units：单位；people：人员")
    imp.add_argument("file", help=".xlsx 或 .csv 文件")
    imp.add_argument(
        "--full", action="store_true", help="完整名单（仅人员）：不在文件中的在岗人员标记为离岗，先列出名单请您确认"
    )
    imp.add_argument("--yes", action="store_true", help="与 --full 同用：已核对名单，不再询问")
    imp.set_defaults(func=_cmd_import)

    inv = with_config(sub.add_parser("invite", help="生成一次性邀请链接"))
    inv.add_argument("--role", required=True, help="角色：联络员、单位负责人、县领导、督查室工作人员、督查室负责人")
    inv.add_argument("--unit", help="所属单位（联络员、单位负责人必填）")
    inv.add_argument("--name", required=True, help="姓名")
    inv.set_defaults(func=_cmd_invite)

    wd = with_config(sub.add_parser("workdays", help="工作日计算与节假日安排载入", add_help=False))
    wd.add_argument("rest", nargs=argparse.REMAINDER)
    wd.set_defaults(func=_cmd_workdays)

    ex = with_config(sub.add_parser("export", help="导出考核表、督办台账（Excel）或督办通知单、卷宗（Word）"))
    ex.add_argument(
        "kind",
        choices=["scores", "items", "notice", "dossier"],
        help="scores：年度考核表；items：督办台账；notice：督办通知单；dossier：卷宗",
    )
    ex.add_argument("file", help="输出文件（scores、items 为 .xlsx；notice、dossier 为 .docx）")
    ex.add_argument("--year", type=int, help="考核年度（scores），如 2026")
    ex.add_argument("--from", dest="start", help="台账开始日期（items），如 2026-01-01")
    ex.add_argument("--to", dest="end", help="台账结束日期（items），如 2026-12-31")
    ex.add_argument("--item", help="事项编号（notice、dossier），如 2026-3")
    ex.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) == "workdays":
        args.rest = [*extra, *args.rest]  # options before the date (``workdays --help``) are its own
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 — the one place every command's faults end up
        return _fault(exc, getattr(args, "settings", None))


def _fault(exc: Exception, settings: Settings | None) -> int:
    """A known fault is one Chinese line and status 2; anything else is a bug: its traceback
    (without secrets) for the maintainers, status 1."""
    from bot.kernel.fatal import explain

    line = explain(exc, settings)
    if line is not None:
        print(line, file=sys.stderr)
        return 2
    print(redact("".join(traceback.format_exception(exc))), file=sys.stderr, end="")
    print("程序内部错误（以上信息请转给维护人员）。", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
