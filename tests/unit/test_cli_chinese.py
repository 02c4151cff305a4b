"""The command line speaks Chinese and refuses what would silently go wrong (issue 12 point 10):
argparse's usage and errors, TOML errors with line and column, ``workdays --help``, and a SQLite
path typo that would have created a new, empty database."""

import shutil
from pathlib import Path

import pytest

from bot.__main__ import build_parser, main
from bot.kernel.config import TOKEN_ENV, ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_shell(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse's own exits (help, errors)
        status = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(("argv", "expected"), [
    (("foo",), "命令行参数有误：未知的命令「foo」（可用的命令：run、demo、db、import、invite、workdays、export）"),
    (("export",), "命令行参数有误：缺少必填的参数：kind、file"),
    (("export", "scores", "out.xlsx", "--year", "明年"), "命令行参数有误：参数 --year 应为整数，收到「明年」"),
    (("export", "ledger", "out.xlsx"), "命令行参数有误：参数 kind 的取值「ledger」无效（可选：scores、items、notice、dossier）"),
    (("invite", "--name", "张三", "--role"), "命令行参数有误：参数 --role 后缺少取值"),
    (("run", "--bogus"), "命令行参数有误：无法识别的参数：--bogus"),
])
def test_argparse_errors_are_one_chinese_line(capsys, argv, expected):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.startswith(expected) and err.count("\n") == 1, err


def test_help_is_chinese(capsys):
    status, out, _ = run(capsys, "export", "--help")
    assert status == 0
    assert out.startswith("用法：python -m bot export") and "位置参数" in out and "选项" in out
    assert "显示本帮助并退出" in out
    assert not any(word in out for word in ("usage:", "positional arguments", "options:", "show this help"))


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_workdays_help_is_answered_without_a_database(capsys, tmp_path, flag):
    status, out, err = run(capsys, "workdays", flag)
    assert (status, err) == (0, "")
    assert out.startswith("用法：") and "python -m bot workdays load FILE" in out
    assert not list(tmp_path.rglob("*.sqlite3"))  # help opened no database


def test_workdays_options_before_the_date_still_work(capsys, tmp_path, sqlite_template):
    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite3")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/db.sqlite3"\n', encoding="utf-8")
    status, out, err = run(capsys, "workdays", "--config", str(cfg), "--provisional", "2026-09-28", "7")
    assert (status, out.strip()) == (0, "2026-10-13"), err


@pytest.mark.parametrize(("content", "expected"), [
    ("[telegram\n", "TOML 格式有误（第 1 行第 10 列附近：表名的方括号 ] 没有闭合）"),
    ("[office]\nname = 督查室\n", "TOML 格式有误（第 2 行第 8 列附近：取值无效（字符串须加英文双引号））"),
    ('[office]\nname = "督查室\n', "TOML 格式有误（第 2 行第 12 列附近：字符串的引号在行尾没有闭合）"),
    ("[office]\nname = \"a\"\nname = \"b\"\n", "TOML 格式有误（第 3 行第 11 列附近：同一个键或表重复出现）"),
    ("[office]\nadmins = [1, 2\n", "TOML 格式有误（文件末尾：列表的方括号 ] 没有闭合）"),
])
def test_toml_errors_are_chinese_with_line_and_column(tmp_path, content, expected):
    cfg = tmp_path / "config.toml"
    cfg.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    message = str(info.value)
    assert message == f"配置错误 {cfg}：{expected}"
    assert not any(c.isascii() and c.isalpha() for c in message.replace(str(cfg), "").replace("TOML", ""))


def write_config(folder: Path, db_name: str) -> Path:
    cfg = folder / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{folder}/{db_name}"\n[storage]\nfiles_dir = "{folder}/files"\n',
                   encoding="utf-8")
    return cfg


def test_a_sqlite_path_typo_is_refused_not_created(capsys, tmp_path, sqlite_template):
    shutil.copyfile(sqlite_template, tmp_path / "duban.sqlite3")  # the office's real database
    cfg = write_config(tmp_path, "duban.sqlite")  # …and a config with a typo
    for argv in (("invite", "--role", "县领导", "--name", "张三"), ("workdays", "2026-09-28", "7"),
                 ("export", "items", "out.xlsx", "--from", "2026-01-01", "--to", "2026-12-31")):
        status, out, err = run(capsys, *argv, "--config", str(cfg))
        assert status == 2 and out == "", argv
        assert err == (f"启动失败：SQLite 数据库文件 {tmp_path / 'duban.sqlite'} 不存在，而同一文件夹中已有数据库文件 "
                       "duban.sqlite3。请检查配置文件 [database] url 的路径是否写错；如确需新建空数据库，请先运行 "
                       "python -m bot db upgrade。\n")
    assert not (tmp_path / "duban.sqlite").exists()

    status, out, _ = run(capsys, "db", "upgrade", "--config", str(cfg))  # said on purpose: created
    assert status == 0 and out.startswith("数据库已升级到最新版本")
    assert (tmp_path / "duban.sqlite").exists()


def test_a_missing_database_where_the_bot_kept_files_is_refused(capsys, tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "photo.jpg").write_bytes(b"\xff\xd8")
    cfg = write_config(tmp_path, "elsewhere.sqlite3")
    status, _, err = run(capsys, "invite", "--role", "县领导", "--name", "张三", "--config", str(cfg))
    assert status == 2 and "不存在，而附件文件夹" in err and "机器人在此运行过" in err


def test_a_first_start_in_a_fresh_folder_creates_the_database(capsys, tmp_path):
    cfg = write_config(tmp_path, "duban.sqlite3")
    status, out, err = run(capsys, "invite", "--role", "县领导", "--name", "张三", "--config", str(cfg))
    assert status == 0 and "县领导邀请链接" in out, err
    assert (tmp_path / "duban.sqlite3").exists()


def test_the_parser_is_the_chinese_one():
    parser = build_parser()
    assert parser.format_usage().startswith("用法：python -m bot")
