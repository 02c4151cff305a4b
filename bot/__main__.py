"""The command line: ``python -m bot {run,demo,db,import,invite,workdays,export}``.

Every failure a person can fix is one Chinese line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from pathlib import Path

from bot.kernel.config import ConfigError, Settings, load_settings
from bot.kernel.logs import protect_secrets, redact

DEFAULT_CONFIG = "config.toml"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors, in one line with status 2
        self.exit(2, f"命令行参数有误：{message}（使用 --help 查看用法）\n")


def _settings(args: argparse.Namespace) -> Settings:
    """The named config file, else ./config.toml if present, else the built-in defaults."""
    if args.config:
        settings = load_settings(args.config)
    elif Path(DEFAULT_CONFIG).exists():
        settings = load_settings(DEFAULT_CONFIG)
    else:
        settings = load_settings(None)
    protect_secrets(settings.telegram.token, settings.telegram.webhook.secret)
    args.settings = settings  # for explaining a fault later
    return settings


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.runtime.runner import run

    return run(_settings(args))


def _cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo.runner import main as demo_main

    return demo_main(port=args.port, data_dir=Path(args.data_dir))


def _cmd_db(args: argparse.Namespace) -> int:
    from store.db import Database

    settings = _settings(args)

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
            return await run_import(db, args.kind, Path(args.file), sys.stdout, sys.stderr)
        finally:
            await db.dispose()

    return asyncio.run(go())


def _cmd_invite(args: argparse.Namespace) -> int:
    from bot.cli.invite import invite

    return asyncio.run(invite(_settings(args), args.role, args.unit, args.name, sys.stdout, sys.stderr))


def _cmd_workdays(args: argparse.Namespace) -> int:
    from bot.calendar_store import workdays_command

    rest = list(args.rest)
    if "--config" in rest:  # REMAINDER swallows options written after the date
        i = rest.index("--config")
        if i + 1 >= len(rest):
            print("命令行参数有误：--config 后缺少文件名", file=sys.stderr)
            return 2
        args.config = rest[i + 1]
        del rest[i : i + 2]
    return asyncio.run(workdays_command(_settings(args), rest, sys.stdout, sys.stderr))


def _cmd_export(args: argparse.Namespace) -> int:
    from bot.kernel.clock import Clock
    from bot.documents.excel import export_command

    return asyncio.run(export_command(_settings(args), args.kind, args.file, year=args.year, start=args.start,
                                      end=args.end, item=args.item, now=Clock().now(), out=sys.stdout, err=sys.stderr))


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
    ex.add_argument("kind", choices=["scores", "items", "notice", "dossier"],
                    help="scores：年度考核表；items：督办台账；notice：督办通知单；dossier：卷宗")
    ex.add_argument("file", help="输出文件（scores、items 为 .xlsx；notice、dossier 为 .docx）")
    ex.add_argument("--year", type=int, help="考核年度（scores），如 2026")
    ex.add_argument("--from", dest="start", help="台账开始日期（items），如 2026-01-01")
    ex.add_argument("--to", dest="end", help="台账结束日期（items），如 2026-12-31")
    ex.add_argument("--item", help="事项编号（notice、dossier），如 2026-3")
    ex.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
