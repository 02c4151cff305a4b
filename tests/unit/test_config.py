"""Configuration: the example file loads, and every mistake is one Chinese line naming file and key."""

from pathlib import Path

import pytest

from bot.__main__ import main
from bot.kernel.config import TOKEN_ENV, ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_documents_a_valid_file():
    s = load_settings(ROOT / "config.example.toml", environ={})
    assert s.database.url == "sqlite:///data/duban.sqlite3"
    assert s.office.timezone == "Asia/Shanghai" and s.office.admins == ()
    assert s.telegram.base_url == "https://api.telegram.org/bot"


def test_defaults_without_a_file():
    s = load_settings(None, environ={})
    assert s.database.url.startswith("sqlite:///data/")
    assert s.invitations.ttl_days == 7


def test_token_may_come_from_the_environment(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[telegram]\ntoken = "from-file"\n', encoding="utf-8")
    assert load_settings(cfg, environ={}).telegram.token == "from-file"
    assert load_settings(cfg, environ={"DUBAN_TELEGRAM_TOKEN": "from-env"}).telegram.token == "from-env"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[telegram\n", "TOML 格式有误"),
        ("[office]\nadmin = [1]\n", "[office] 中有未知的键 admin"),
        ("[offices]\n", "未知的配置节 [offices]"),
        ("[office]\nadmins = 12345\n", "[office] admins 应为整数列表，实际为整数"),
        ('[office]\nadmins = ["abc"]\n', "[office] admins 应为 Telegram 用户 ID"),
        ("[database]\nurl = 5\n", "[database] url 应为字符串，实际为整数"),
        ('[database]\nurl = "mysql://x"\n', "[database] url 只支持"),
        ("[telegram.webhook]\nport = true\n", "[telegram.webhook] port 应为整数，实际为布尔值"),
        ('[telegram]\nmode = "push"\n', "[telegram] mode 只能是 polling 或 webhook"),
        ('[telegram]\nmode = "webhook"\n', "[telegram.webhook] url 在 webhook 模式下必须填写"),
        ('[office]\ntimezone = "Mars/Base"\n', "[office] timezone 不是有效的时区名称"),
        ('[office]\ntimezone = "Europe/Berlin"\n', "[office] timezone 须为北京时间（UTC+8"),
        ('[office]\ntimezone = "Asia/Urumqi"\n', "[office] timezone 须为北京时间（UTC+8"),
        ("[invitations]\nttl_days = 0\n", "[invitations] ttl_days 应在 1–365 之间"),
        ('telegram = "x"\n', "[telegram] 应为表"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, content, expected):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    message = str(info.value)
    assert message.startswith(f"配置错误 {cfg}：") and expected in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="找不到配置文件"):
        load_settings(tmp_path / "nope.toml", environ={})


# The commands run in-process (bot.__main__.main); tests/unit/test_cli.py runs the real entry point once.


def test_cli_reports_bad_config_in_one_line_with_status_2(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[database]\nurl = 5\n", encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(cfg)]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == f"配置错误 {cfg}：[database] url 应为字符串，实际为整数"
    assert out == ""


def test_run_without_token_is_a_clear_error(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/x.sqlite3"\n', encoding="utf-8")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # the default files folder (data/files) is not the checkout's, where a bot may have run
    assert main(["run", "--config", str(cfg)]) == 2
    assert "[telegram] token 未填写" in capsys.readouterr().err


def test_db_upgrade_command_migrates(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/x.sqlite3"\n', encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(cfg)]) == 0
    assert "数据库已升级到最新版本" in capsys.readouterr().out and (tmp_path / "x.sqlite3").exists()
