"""The example 2027 schedule in docs/ is marked as an example (its dates are fictional)."""

from pathlib import Path

import pytest

from bot.domain.workdays import ScheduleError, parse_schedule

EXAMPLE = Path(__file__).resolve().parents[2] / "docs/schedule-example-2027.toml"


def test_the_example_file_says_it_is_an_example():
    schedule = parse_schedule(EXAMPLE.read_text(encoding="utf-8"))
    assert schedule.example is True and schedule.year == 2027


def test_a_real_schedule_is_not_an_example_and_the_mark_survives_a_round_trip():
    text = EXAMPLE.read_text(encoding="utf-8").replace("example = true\n", "")
    assert parse_schedule(text).example is False
    marked = parse_schedule(EXAMPLE.read_text(encoding="utf-8"))
    assert parse_schedule(marked.to_toml()).example is True


def test_example_must_be_a_boolean():
    with pytest.raises(ScheduleError, match="example 应为 true 或 false"):
        parse_schedule('year = 2027\nexample = "是"\n[holidays]\n"元旦" = ["2027-01-01"]\n')


def test_loading_the_example_from_the_command_line_warns(tmp_path, capsys, sqlite_template, monkeypatch):
    import shutil

    from bot.__main__ import main

    monkeypatch.chdir(tmp_path)
    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite3")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/db.sqlite3"\n', encoding="utf-8")
    assert main(["workdays", "load", str(EXAMPLE), "--config", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("已载入2027年放假安排")
    assert err.startswith(f"警告：{EXAMPLE} 是示例文件（example = true），日期是虚构的")

    real = tmp_path / "2027.toml"
    real.write_text(EXAMPLE.read_text(encoding="utf-8").replace("example = true\n", ""), encoding="utf-8")
    assert main(["workdays", "load", str(real), "--config", str(cfg)]) == 0
    assert capsys.readouterr().err == ""
