"""The command line as a county IT person uses it: import, invite, workdays load and query.

The commands run in-process (``bot.__main__.main``, output through capsys): the same argument
parsing, settings, database and exit statuses as ``python -m bot``, without starting a Python and
importing the bot a dozen times. One smoke test runs the real ``python -m bot`` entry point.
"""

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.kernel.config import TOKEN_ENV

ROOT = Path(__file__).resolve().parents[2]
UNITS, PEOPLE = str(ROOT / "docs/examples/units.csv"), str(ROOT / "docs/examples/people.csv")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def write_config(folder: Path) -> Path:
    cfg = folder / "config.toml"
    cfg.write_text(f'[telegram]\nbot_username = "gz_duban_bot"\n[database]\nurl = "sqlite:///{folder}/db.sqlite3"\n',
                   encoding="utf-8")
    return cfg


@pytest.fixture(autouse=True)
def clean_shell(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)  # as from a clean shell: the file says everything
    monkeypatch.chdir(tmp_path)  # no ./config.toml of the developer's is picked up


@pytest.fixture
def config(tmp_path, sqlite_template):
    """A config whose database is already migrated (the commands' own upgrade finds nothing to do)."""
    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite3")
    return write_config(tmp_path)


def cli(config: Path, capsys):
    """``run(*args)`` is ``python -m bot *args --config <config>``, in-process."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            status = main([*args, "--config", str(config)])
        except SystemExit as exc:  # argparse's own exits
            status = exc.code if isinstance(exc.code, int) else 2
        out, err = capsys.readouterr()
        return Result(status, out, err)

    return run


@pytest.fixture
def bot(config, capsys):
    return cli(config, capsys)


def test_python_m_bot_is_the_entry_point():
    result = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "督办助手" in result.stdout and all(c in result.stdout for c in ("run", "import", "invite", "workdays"))


def test_import_then_invite_prints_a_one_time_link(tmp_path, capsys):
    bot = cli(write_config(tmp_path), capsys)  # no database yet: the first command creates and migrates it
    assert bot("import", "units", UNITS).returncode == 0
    people = bot("import", "people", PEOPLE)
    assert people.returncode == 0 and "人员导入完成" in people.stdout
    again = bot("import", "people", PEOPLE)
    assert "新增 0，更新 0" in again.stdout

    result = bot("invite", "--role", "联络员", "--unit", "城关镇", "--name", "张三")
    assert result.returncode == 0, result.stderr
    assert re.search(r"https://t\.me/gz_duban_bot\?start=[A-Za-z0-9_-]{16,}", result.stdout)
    assert "张三（城关镇）" in result.stdout and "联络员" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("invite", "--role", "联络员", "--unit", "不存在的镇", "--name", "张三"), "找不到单位「不存在的镇」"),
        (("invite", "--role", "联络员", "--name", "张三"), "联络员必须指定所属单位"),
        (("invite", "--role", "村长", "--name", "张三"), "未知的角色「村长」"),
        (("invite", "--role", "县领导", "--name", ""), "姓名不能为空"),
        (("import", "units", "nope.csv"), "找不到"),
    ],
)
def test_cli_bad_input_is_one_clear_line_and_status_2(bot, args, message):
    result = bot(*args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_workdays_load_makes_a_year_known(bot, tmp_path):
    unknown = bot("workdays", "2027-02-01", "10")
    assert unknown.returncode == 2 and "2027年放假安排尚未载入" in unknown.stderr
    provisional = bot("workdays", "2027-02-01", "10", "--provisional")
    assert provisional.returncode == 0 and provisional.stdout.strip() == "2027-02-15"

    loaded = bot("workdays", "load", str(ROOT / "docs/schedule-example-2027.toml"))
    assert loaded.returncode == 0 and loaded.stdout.startswith("已载入2027年放假安排")
    known = bot("workdays", "2027-02-01", "10")
    # Example schedule: Spring Festival 02-05..02-13 off, Sunday 02-14 and Saturday 02-20 worked.
    assert known.returncode == 0 and known.stdout.strip() == "2027-02-20"

    bad = tmp_path / "bad.toml"
    bad.write_text('year = 2027\n[holidays]\n"春节" = ["2027-02-30"]\n', encoding="utf-8")
    refused = bot("workdays", "load", str(bad))
    assert refused.returncode == 2 and "2027-02-30" in refused.stderr


def test_workdays_query_across_national_day(bot):
    assert bot("workdays", "2026-09-28", "7").stdout.strip() == "2026-10-13"
    assert bot("workdays", "2026-10-10").stdout.strip() == "2026-10-10 工作日（调休上班）"
