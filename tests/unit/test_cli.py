"""The command line as a county IT person uses it: import, invite, workdays load and query."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[telegram]\nbot_username = "gz_duban_bot"\n[database]\nurl = "sqlite:///{tmp_path}/db.sqlite3"\n',
                   encoding="utf-8")
    return cfg


def bot(config, *args):
    return subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(config)],
                          capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin"})


def test_import_then_invite_prints_a_one_time_link(config):
    assert bot(config, "import", "units", "docs/examples/units.csv").returncode == 0
    people = bot(config, "import", "people", "docs/examples/people.csv")
    assert people.returncode == 0 and "人员导入完成" in people.stdout
    again = bot(config, "import", "people", "docs/examples/people.csv")
    assert "新增 0，更新 0" in again.stdout

    result = bot(config, "invite", "--role", "联络员", "--unit", "城关镇", "--name", "张三")
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
def test_cli_bad_input_is_one_clear_line_and_status_2(config, args, message):
    result = bot(config, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_workdays_load_makes_a_year_known(config, tmp_path):
    unknown = bot(config, "workdays", "2027-02-01", "10")
    assert unknown.returncode == 2 and "2027年放假安排尚未载入" in unknown.stderr
    provisional = bot(config, "workdays", "2027-02-01", "10", "--provisional")
    assert provisional.returncode == 0 and provisional.stdout.strip() == "2027-02-15"

    loaded = bot(config, "workdays", "load", "docs/schedule-example-2027.toml")
    assert loaded.returncode == 0 and loaded.stdout.startswith("已载入2027年放假安排")
    known = bot(config, "workdays", "2027-02-01", "10")
    # Example schedule: Spring Festival 02-05..02-13 off, Sunday 02-14 and Saturday 02-20 worked.
    assert known.returncode == 0 and known.stdout.strip() == "2027-02-20"

    bad = tmp_path / "bad.toml"
    bad.write_text('year = 2027\n[holidays]\n"春节" = ["2027-02-30"]\n', encoding="utf-8")
    refused = bot(config, "workdays", "load", str(bad))
    assert refused.returncode == 2 and "2027-02-30" in refused.stderr


def test_workdays_query_across_national_day(config):
    assert bot(config, "workdays", "2026-09-28", "7").stdout.strip() == "2026-10-13"
    assert bot(config, "workdays", "2026-10-10").stdout.strip() == "2026-10-10 工作日（调休上班）"
