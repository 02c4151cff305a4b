"""TOML configuration → typed settings.

A county IT person edits this file, so every mistake is reported as one Chinese line naming the
file and the key (``ConfigError``); the CLI turns it into exit status 2 without a traceback.
The schema below is the single list of keys: an unknown key is an error, not silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TOKEN_ENV = "DUBAN_TELEGRAM_TOKEN"
DEFAULT_DATABASE_URL = "sqlite:///data/duban.sqlite3"


class ConfigError(Exception):
    """A configuration problem, already phrased for the person who edits the file."""


@dataclass(frozen=True)
class WebhookSettings:
    listen: str = "127.0.0.1"
    port: int = 8443
    url: str = ""
    secret: str = ""


@dataclass(frozen=True)
class TelegramSettings:
    token: str = ""
    bot_username: str = ""
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"
    webhook: WebhookSettings = field(default_factory=WebhookSettings)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = DEFAULT_DATABASE_URL


@dataclass(frozen=True)
class OfficeSettings:
    name: str = "县人民政府督查室"
    admins: tuple[int, ...] = ()
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class InvitationSettings:
    ttl_days: int = 7


@dataclass(frozen=True)
class StorageSettings:
    files_dir: str = "data/files"


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class Settings:
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    office: OfficeSettings = field(default_factory=OfficeSettings)
    invitations: InvitationSettings = field(default_factory=InvitationSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    source: str = "<defaults>"


# section -> key -> (python type, Chinese type name). Nested tables are sections with a dot.
_SCHEMA: dict[str, dict[str, tuple[type, str]]] = {
    "telegram": {
        "token": (str, "字符串"),
        "bot_username": (str, "字符串"),
        "base_url": (str, "字符串"),
        "base_file_url": (str, "字符串"),
        "mode": (str, "字符串"),
    },
    "telegram.webhook": {
        "listen": (str, "字符串"),
        "port": (int, "整数"),
        "url": (str, "字符串"),
        "secret": (str, "字符串"),
    },
    "database": {"url": (str, "字符串")},
    "office": {"name": (str, "字符串"), "admins": (list, "整数列表"), "timezone": (str, "字符串")},
    "invitations": {"ttl_days": (int, "整数")},
    "storage": {"files_dir": (str, "字符串")},
    "logging": {"level": (str, "字符串")},
}

_TOML_TYPE_NAMES = {str: "字符串", int: "整数", float: "小数", bool: "布尔值", list: "列表", dict: "表"}


def _type_name(value: Any) -> str:
    return _TOML_TYPE_NAMES.get(type(value), type(value).__name__)


def load_settings(path: str | os.PathLike[str] | None, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the file; ``None`` means defaults only (the demo and tests use that)."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"配置错误 {source}：找不到配置文件（可复制 config.example.toml 后修改）") from None
        except IsADirectoryError:
            raise ConfigError(f"配置错误 {source}：这是一个目录，不是配置文件") from None
        except UnicodeDecodeError:
            raise ConfigError(f"配置错误 {source}：文件不是 UTF-8 编码") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"配置错误 {source}：TOML 格式有误（{exc}）") from None
    values = _validate(raw, source)
    return _build(values, source, environ)


def _validate(raw: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}

    def walk(table: dict[str, Any], prefix: str) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if name in _SCHEMA:
                if not isinstance(value, dict):
                    raise ConfigError(f"配置错误 {source}：[{name}] 应为表（[{name}]），实际为{_type_name(value)}")
                walk(value, name)
                continue
            if not prefix:
                raise ConfigError(f"配置错误 {source}：未知的配置节 [{name}]")
            allowed = _SCHEMA[prefix]
            if key not in allowed:
                known = "、".join(allowed)
                raise ConfigError(f"配置错误 {source}：[{prefix}] 中有未知的键 {key}（可用的键：{known}）")
            expected, expected_name = allowed[key]
            # bool is an int in Python; TOML true must not pass for a port number.
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(
                    f"配置错误 {source}：[{prefix}] {key} 应为{expected_name}，实际为{_type_name(value)}"
                )
            values.setdefault(prefix, {})[key] = value

    walk(raw, "")
    return values


def _build(values: dict[str, dict[str, Any]], source: str, environ: dict[str, str]) -> Settings:
    def err(section: str, key: str, problem: str) -> ConfigError:
        return ConfigError(f"配置错误 {source}：[{section}] {key} {problem}")

    tg = values.get("telegram", {})
    token = environ.get(TOKEN_ENV) or tg.get("token", "")
    mode = tg.get("mode", "polling")
    if mode not in ("polling", "webhook"):
        raise err("telegram", "mode", f"只能是 polling 或 webhook，实际为 {mode!r}")
    wh = values.get("telegram.webhook", {})
    webhook = WebhookSettings(**wh)
    if mode == "webhook" and not webhook.url:
        raise err("telegram.webhook", "url", "在 webhook 模式下必须填写（Telegram 能访问到的 https 地址）")
    if not 0 < webhook.port < 65536:
        raise err("telegram.webhook", "port", f"应在 1–65535 之间，实际为 {webhook.port}")

    office = values.get("office", {})
    admins = office.get("admins", [])
    for admin in admins:
        if not isinstance(admin, int) or isinstance(admin, bool) or admin <= 0:
            raise err("office", "admins", f"应为 Telegram 用户 ID（正整数）列表，其中 {admin!r} 不是")
    timezone = office.get("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise err("office", "timezone", f"不是有效的时区名称：{timezone!r}（例如 Asia/Shanghai）") from None

    inv = values.get("invitations", {})
    ttl = inv.get("ttl_days", 7)
    if not 1 <= ttl <= 365:
        raise err("invitations", "ttl_days", f"应在 1–365 之间，实际为 {ttl}")

    level = values.get("logging", {}).get("level", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise err("logging", "level", f"只能是 DEBUG、INFO、WARNING 或 ERROR，实际为 {level!r}")

    db_url = values.get("database", {}).get("url", DEFAULT_DATABASE_URL)
    if not db_url.startswith(("sqlite", "postgresql", "postgres")):
        raise err("database", "url", f"只支持 sqlite:/// 或 postgresql:// 地址，实际为 {db_url!r}")

    return Settings(
        telegram=TelegramSettings(
            token=token,
            bot_username=tg.get("bot_username", "").lstrip("@"),
            base_url=tg.get("base_url", TelegramSettings.base_url),
            base_file_url=tg.get("base_file_url", TelegramSettings.base_file_url),
            mode=mode,
            webhook=webhook,
        ),
        database=DatabaseSettings(url=db_url),
        office=OfficeSettings(
            name=office.get("name", OfficeSettings.name), admins=tuple(admins), timezone=timezone
        ),
        invitations=InvitationSettings(ttl_days=ttl),
        storage=StorageSettings(**values.get("storage", {})),
        logging=LoggingSettings(level=level),
        source=source,
    )
