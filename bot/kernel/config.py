"""TOML configuration → typed settings.

A county IT person edits this file, so every mistake is reported as one Chinese line naming the
file and the key (``ConfigError``); the CLI turns it into exit status 2 without a traceback.
The schema below is the single list of keys: an unknown key is an error, not silently ignored.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dt_time
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
class ReminderSettings:
    """The 催办 ladder and the hours it may speak in (see bot.domain.urging)."""

    work_start: dt_time = dt_time(8, 30)
    work_end: dt_time = dt_time(18, 0)
    # The morning round at the start of the working day: what was held overnight or over a day off
    # arrives as work starts, in one message with the reminders (and on Mondays the weekly one).
    round_time: dt_time = dt_time(8, 30)
    due_soon_days: int = 3
    due_day: bool = True
    overdue_every_days: int = 1
    overdue_office: bool = True
    leader_after_days: int = 3
    follower_every_step: bool = True
    urgent_any_time: bool = True
    weekly_day: int = 1  # 1 = Monday … 7 = Sunday
    weekly_time: dt_time = dt_time(8, 30)
    # In working hours, notices that only inform wait for this time and go out as one message a
    # day (bot.domain.notices); None (``bundle_time = false``): they go at once. On by default: the
    # office promised its units at most two routine messages a working day (issue 13). Outside
    # working hours every routine notice waits for the next morning round either way.
    bundle_time: dt_time | None = dt_time(16, 0)


@dataclass(frozen=True)
class DigestSettings:
    """The daily digest for leaders and the office (see bot.domain.digest)."""

    time: dt_time = dt_time(8, 30)  # never before [reminders] work_start: an earlier one is clamped to it
    chart: bool = True


# The score's rules (regulation §8) as data: code → (default points, name, clause, disqualifies).
# [score.points] is checked against it here; bot.domain.score makes its Rule objects from it and
# the runtime's Services holds them with the county's points.
SCORE_RULES: dict[str, tuple[int, str, str, bool]] = {
    "criticism.decision": (-5, "重要工作部署落实不到位被通报批评", "第八条（一）", False),
    "criticism.project": (-5, "民生工程、重点项目进度落后被通报批评", "第八条（二）", False),
    "criticism.meeting": (-5, "重要会议决定事项未落实到位被通报批评", "第八条（三）", False),
    "late.leader_or_superior": (-5, "上级或领导交办事项办理不及时或处理不到位", "第八条（四）", False),
    "late.npc_cppcc.lead": (-2, "人大建议、政协提案未按时办结（主办）", "第八条（五）", False),
    "late.npc_cppcc.assist": (-1, "人大建议、政协提案未按时办结（协办）", "第八条（五）", False),
    "criticism.other": (-5, "其他督办事项无正当理由未落实到位", "第八条（六）", False),
    "late_feedback": (-2, "未按要求及时反馈办理结果", "第八条（七）", False),
    "commendation": (5, "办理情况得到县政府领导肯定并通报表扬", "第八条（八）", False),
    "fraud": (0, "瞒报、谎报、弄虚作假（取消评先评优资格）", "第八条（九）", True),
}


@dataclass(frozen=True)
class ScoreSettings:
    """考核: the points of each rule (bot.domain.score); only the ones the county changed."""

    points: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    office: OfficeSettings = field(default_factory=OfficeSettings)
    invitations: InvitationSettings = field(default_factory=InvitationSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    score: ScoreSettings = field(default_factory=ScoreSettings)
    source: str = "<defaults>"


# section -> key -> (python type, Chinese type name). Nested tables are sections with a dot.
_SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], str]]] = {
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
    "reminders": {
        "work_start": ((str, dt_time), '时间（如 "08:30"）'),
        "work_end": ((str, dt_time), '时间（如 "18:00"）'),
        "round_time": ((str, dt_time), '时间（如 "08:30"）'),
        "due_soon_days": (int, "整数"),
        "due_day": (bool, "布尔值（true 或 false）"),
        "overdue_every_days": (int, "整数"),
        "overdue_office": (bool, "布尔值（true 或 false）"),
        "leader_after_days": (int, "整数"),
        "follower_every_step": (bool, "布尔值（true 或 false）"),
        "urgent_any_time": (bool, "布尔值（true 或 false）"),
        "weekly_day": ((int, str), "整数 1–7 或“周一”等"),
        "weekly_time": ((str, dt_time), '时间（如 "08:30"）'),
        "bundle_time": ((str, dt_time, bool), '时间（如 "16:00"）或 false（不合并）'),
    },
    "digest": {
        "time": ((str, dt_time), '时间（如 "08:00"）'),
        "chart": (bool, "布尔值（true 或 false）"),
    },
    # [score.points]: rule code = points; the codes are filled in by _validate (see _score_codes).
    "score": {},
}

_WEEKDAYS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}


def _clock_time(value: object, err) -> dt_time:  # noqa: ANN001
    """``"08:30"`` or a TOML time ``08:30:00`` → a time of day; anything else → ``err(problem)``."""
    if isinstance(value, dt_time):
        if value.tzinfo is not None:
            raise err("不要带时区（时区由 [office] timezone 决定）")
        return value.replace(second=0, microsecond=0)
    text = str(value).strip().replace("：", ":")
    parts = text.split(":")
    if len(parts) == 2 and all(p.isdigit() and 1 <= len(p) <= 2 for p in parts):
        h, m = int(parts[0]), int(parts[1])
        if 0 <= h <= 23 and 0 <= m <= 59:
            return dt_time(h, m)
    raise err(f'应为“时:分”格式的时间，如 "08:30"，实际为 {value!r}')


def _bundle_time(value: object, default: dt_time | None, err) -> dt_time | None:  # noqa: ANN001
    """``false`` turns bundling off, ``true`` (or no key) keeps the default time, a time sets it."""
    if value is False:
        return None
    if value is True:
        return default
    return _clock_time(value, lambda p: err("reminders", "bundle_time", p))


def _weekday(value: object, err) -> int:  # noqa: ANN001
    """1–7 (1 = Monday) or "周一" / "星期一" → 1–7."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 1 <= value <= 7:
            return value
    elif isinstance(value, str):
        text = value.strip().removeprefix("星期").removeprefix("周").removeprefix("礼拜")
        if text in _WEEKDAYS:
            return _WEEKDAYS[text]
    raise err(f"应为 1–7（1 表示周一）或“周一”…“周日”，实际为 {value!r}")


_TOML_TYPE_NAMES = {str: "字符串", int: "整数", float: "小数", bool: "布尔值", list: "列表", dict: "表"}


def _type_name(value: Any) -> str:
    return _TOML_TYPE_NAMES.get(type(value), type(value).__name__)


# tomllib's messages (Python 3.11–3.13) → Chinese; an unknown one is named as "格式不符合 TOML 规范".
_TOML_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"Expected ']' at the end of a table declaration", "表名的方括号 ] 没有闭合"),
    (r"Expected ']]' at the end of an array declaration", "表数组的 ]] 没有闭合"),
    (r"Expected '=' after a key in a key/value pair", "键后面缺少等号 ="),
    (r"Expected newline or end of document after a statement", "一行只能写一项，其后应换行"),
    (r"Unterminated string", "字符串的引号没有闭合"),
    (r"Unclosed array", "列表的方括号 ] 没有闭合"),
    (r"Unclosed inline table", "内联表的花括号 } 没有闭合"),
    (r"Expected ',' or ']' after an array element", "列表元素之间应以英文逗号分隔"),
    (r"Expected ',' or '}' after inline table value", "内联表的值之间应以英文逗号分隔"),
    (r"Invalid value", "取值无效（字符串须加英文双引号）"),
    (r"Invalid statement", "无法识别的语句"),
    (r"Invalid initial character for a key part", "键名以无效字符开头"),
    (r"Cannot (?:declare|overwrite|mutate) .*", "同一个键或表重复出现"),
    (r"Illegal character '\\n'", "字符串的引号在行尾没有闭合"),
    (r"(?:Illegal|Found invalid) character .*", "含有不允许的字符（请使用英文半角符号）"),
    (r"Invalid date or datetime", "日期或时间无效"),
    (r"Unescaped '\\' in a string", "字符串中的反斜杠 \\ 须写成 \\\\"),
    (r"Unterminated .*", "引号或括号没有闭合"),
)


def toml_problem(exc: tomllib.TOMLDecodeError) -> str:
    """``（第 3 行第 9 列附近：表名的方括号 ] 没有闭合）`` from tomllib's English message."""
    text = str(exc)
    m = re.search(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$", text)
    message = text[: m.start()] if m else text
    what = next((zh for en, zh in _TOML_MESSAGES if re.fullmatch(en, message.strip())), "格式不符合 TOML 规范")
    if m and m.group(1):
        return f"（第 {m.group(1)} 行第 {m.group(2)} 列附近：{what}）"
    return f"（文件末尾：{what}）" if m else f"（{what}）"


def load_settings(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the file; ``None`` means defaults only (the demo and tests use that)."""
    env: Mapping[str, str] = os.environ if environ is None else environ
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
            raise ConfigError(f"配置错误 {source}：TOML 格式有误{toml_problem(exc)}") from None
    values = _validate(raw, source)
    return _build(values, source, env)


def _validate(raw: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    _SCHEMA.setdefault("score.points", {code: (int, "整数") for code in _score_codes()})

    def walk(table: dict[str, Any], prefix: str) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if prefix == "score.points" and isinstance(value, dict):  # criticism.decision = -5, unquoted
                walk({f"{key}.{k}": v for k, v in value.items()}, prefix)
                continue
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
            if not isinstance(value, expected) or (
                (expected is int or (isinstance(expected, tuple) and int in expected)) and isinstance(value, bool)
            ):
                raise ConfigError(f"配置错误 {source}：[{prefix}] {key} 应为{expected_name}，实际为{_type_name(value)}")
            values.setdefault(prefix, {})[key] = value

    walk(raw, "")
    return values


def _build(values: dict[str, dict[str, Any]], source: str, environ: Mapping[str, str]) -> Settings:
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
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise err("office", "timezone", f"不是有效的时区名称：{timezone!r}（例如 Asia/Shanghai）") from None
    # Deadlines, numbering years and the dates in notices are Beijing time (government time, also
    # in Xinjiang); a zone that differs from it anywhere in these years would split the office's day.
    if any(
        datetime(year, month, 1, 12, tzinfo=zone).utcoffset() != timedelta(hours=8)
        for year in range(2020, 2041)
        for month in (1, 7)
    ):
        raise err("office", "timezone", f"须为北京时间（UTC+8，如 Asia/Shanghai），实际为 {timezone!r}")

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

    reminders = _reminders(values.get("reminders", {}), err)
    digest = _digest(values.get("digest", {}), reminders, err)
    score = _score(values.get("score.points", {}), err)

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
        office=OfficeSettings(name=office.get("name", OfficeSettings.name), admins=tuple(admins), timezone=timezone),
        invitations=InvitationSettings(ttl_days=ttl),
        storage=StorageSettings(**values.get("storage", {})),
        logging=LoggingSettings(level=level),
        reminders=reminders,
        digest=digest,
        score=score,
        source=source,
    )


def _score_codes() -> dict[str, int]:
    """The score rules' codes and default points."""
    return {code: row[0] for code, row in SCORE_RULES.items()}


def _score(raw: dict[str, Any], err) -> ScoreSettings:  # noqa: ANN001
    """Points within ±100 and of the rule's own sign: a deduction cannot become a bonus by a typo."""
    defaults = _score_codes()
    for code, points in raw.items():
        if not -100 <= points <= 100:
            raise err("score.points", f'"{code}"', f"应在 -100–100 之间，实际为 {points}")
        if (defaults[code] < 0 < points) or (defaults[code] > 0 > points) or (defaults[code] == 0 and points > 0):
            kind = "加分项，应为正数或 0" if defaults[code] > 0 else "扣分项，应为负数或 0"
            raise err("score.points", f'"{code}"', f"是{kind}，实际为 {points}")
    return ScoreSettings(points=dict(raw))


def _reminders(raw: dict[str, Any], err) -> ReminderSettings:  # noqa: ANN001
    d = ReminderSettings()

    def when(key: str, default: dt_time) -> dt_time:
        return _clock_time(raw[key], lambda p: err("reminders", key, p)) if key in raw else default

    def number(key: str, default: int, lo: int, hi: int) -> int:
        value = raw.get(key, default)
        if not lo <= value <= hi:
            raise err("reminders", key, f"应在 {lo}–{hi} 之间，实际为 {value}")
        return value

    work_start, work_end = when("work_start", d.work_start), when("work_end", d.work_end)
    if work_start >= work_end:
        raise err("reminders", "work_end", f"应晚于 work_start（{work_start:%H:%M}），实际为 {work_end:%H:%M}")
    round_time = when("round_time", d.round_time)
    return ReminderSettings(
        work_start=work_start,
        work_end=work_end,
        round_time=round_time,
        due_soon_days=number("due_soon_days", d.due_soon_days, 0, 30),
        due_day=raw.get("due_day", d.due_day),
        overdue_every_days=number("overdue_every_days", d.overdue_every_days, 1, 30),
        overdue_office=raw.get("overdue_office", d.overdue_office),
        leader_after_days=number("leader_after_days", d.leader_after_days, 1, 60),
        follower_every_step=raw.get("follower_every_step", d.follower_every_step),
        urgent_any_time=raw.get("urgent_any_time", d.urgent_any_time),
        weekly_day=_weekday(raw["weekly_day"], lambda p: err("reminders", "weekly_day", p))
        if "weekly_day" in raw
        else d.weekly_day,
        weekly_time=when("weekly_time", d.weekly_time),
        bundle_time=_bundle_time(raw.get("bundle_time", True), d.bundle_time, err),
    )


def _digest(raw: dict[str, Any], reminders: ReminderSettings, err) -> DigestSettings:  # noqa: ANN001
    d = DigestSettings()
    at = _clock_time(raw["time"], lambda p: err("digest", "time", p)) if "time" in raw else d.time
    if at >= reminders.work_end:
        raise err("digest", "time", f"应早于 [reminders] work_end（{reminders.work_end:%H:%M}），实际为 {at:%H:%M}")
    # Routine messages wait for working hours: a digest time before work_start means work_start.
    return DigestSettings(time=max(at, reminders.work_start), chart=raw.get("chart", d.chart))
