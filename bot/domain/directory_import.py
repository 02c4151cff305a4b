"""Import the office's directory (units, then people) from Excel (.xlsx) or CSV.

``python -m bot import units FILE`` and ``python -m bot import people FILE`` call :func:`run_import`.

Files
-----
The first sheet of an .xlsx/.xlsm workbook, or a CSV file in UTF-8 (with or without BOM) or
GB18030 (what Excel on Chinese Windows writes). Row 1 holds the Chinese column headers, in any
order; an unknown header is an error, so that a typo never silently drops a column. Blank rows are
skipped. Cells Excel stores as numbers (a phone number typed without a leading quote) are turned
back into their digits.

* 单位 (units): 单位名称 (required, at most 100 characters, the key), 类型 (required, one of
  ``UNIT_KINDS``), 状态 (optional: 启用/停用; a new unit without it is 启用).
* 人员 (people): 姓名 (required, at most 50 characters), 单位 (required for 联络员/单位负责人 and
  must name a unit already in the database — import units first; must be empty for
  督查室工作人员/督查室负责人/县领导), 角色 (required, one or more role names separated by
  、 , ， ; ； or spaces), 手机 (optional, 7–20 digits; spaces and dashes are removed), 职务
  (optional, at most 50 characters). A person is identified by (姓名, 单位), the key of the
  ``uq_people_name_unit`` constraint (no unit for the unit-less roles). The role 主要领导 is a
  县领导 flagged principal (issue 12: sees every item); like roles, the flag is only added.

Rules
-----
* All or nothing: the whole file is validated first. If any row is wrong nothing is written and
  every problem is reported, one Chinese line each, with the row number Excel shows and the
  column header (``第5行「类型」：“街道”不是有效的单位类型（可选：…）``).
* Idempotent: importing the same file again changes no row and writes no audit entry; values are
  only assigned when they differ from what is stored.
* Changed values update the existing row (a unit's 类型/状态, a person's 手机/职务/角色).
* Roles are only ever ADDED. A role a person has in the database but not in the file is kept:
  removing access is a deliberate act (done in the bot, audited as such), not a side effect of a
  spreadsheet someone edited or an old export being imported again.
* Likewise an empty optional cell (or an absent optional column) means "not given": the stored
  value is kept, it is not cleared. Defaults (状态 = 启用) apply to new rows only.
* Units and people absent from the file are left alone; a person's 启用 state and Telegram link
  are never touched by an import — except by a FULL import of people (``--full``): the file is
  then the whole directory, and the active people missing from it are leaving. They are listed
  first and only marked once the office confirms (``--yes``, or "y" at the prompt): deactivated
  as in /people (``bot.domain.people.leave``: told once, links revoked, nothing more sent),
  audited as ``person.leave_import``. The confirmation is checked against a second reading: if
  the list changed in between, nothing is written. Office admins listed in the configuration
  (``[office] admins``) are never marked.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.directory import UNIT_KINDS
from bot.domain.errors import DomainError
from bot.domain.roles import PRINCIPAL_LEADER, ROLE_NAMES, UNIT_ROLES, parse_role
from store.audit import Actor
from store.models import Person, PersonRole, Unit

# --- columns -------------------------------------------------------------------------------------

U_NAME, U_KIND, U_STATE = "单位名称", "类型", "状态"
UNIT_COLUMNS = (U_NAME, U_KIND, U_STATE)
UNIT_REQUIRED = (U_NAME, U_KIND)

P_NAME, P_UNIT, P_ROLES, P_PHONE, P_TITLE = "姓名", "单位", "角色", "手机", "职务"
PEOPLE_COLUMNS = (P_NAME, P_UNIT, P_ROLES, P_PHONE, P_TITLE)
PEOPLE_REQUIRED = (P_NAME, P_ROLES)  # 单位 is required per row, depending on the roles

STATES = {"启用": True, "停用": False}
UNIT_NAME_MAX = 100
PERSON_NAME_MAX = 50
TITLE_MAX = 50
PHONE_MIN, PHONE_MAX = 7, 20
ROLE_SEPARATORS = "、,，;；"
SUPPORTED_EXCEL = (".xlsx", ".xlsm")
SUPPORTED = (*SUPPORTED_EXCEL, ".csv")

KINDS = ("units", "people")
KIND_NAMES = {"units": "单位", "people": "人员"}


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One data row: its number as Excel shows it (header = 1) and header -> trimmed text."""

    number: int
    values: dict[str, str]

    def get(self, header: str) -> str:
        return self.values.get(header, "")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Chinese, one line per problem. Non-empty means nothing was written.
    errors: list[str] = field(default_factory=list)
    # A full import: the active people missing from the file, "姓名（单位，角色）" each.
    leaving: list[str] = field(default_factory=list)
    left: int = 0  # of them, marked as leaving

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = f"导入完成：新增 {self.created}，更新 {self.updated}，未变 {self.unchanged}"
        return text + (f"，标记离岗 {self.left}" if self.left else "")


class ImportFileError(DomainError):
    """The file as a whole cannot be used (missing, unreadable, no header...). ``errors``: one line each."""

    def __init__(self, errors: str | Sequence[str]) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


# --- reading -------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell as the text a person sees: numbers without a spurious ``.0``, no surrounding spaces."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value).strip()


def _column_letter(index: int) -> str:
    """0-based column index -> Excel letters (0 -> A, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _header_text(value: Any) -> str:
    # Headers typed in Excel often carry stray (full-width) spaces; "单位 名称" is still 单位名称.
    return "".join(cell_text(value).split())


def _rows_from_matrix(raw_rows: Iterable[Sequence[Any]], name: str) -> list[Row]:
    """Turn raw cell rows (row 1 first) into :class:`Row` objects, checking the header."""
    header: list[str] | None = None
    header_number = 0
    rows: list[Row] = []
    stray: dict[int, int] = {}  # column index without header -> first row that has data there
    for number, raw in enumerate(raw_rows, start=1):
        cells = [cell_text(v) for v in raw]
        if not any(cells):
            continue  # blank row
        if header is None:
            header = [_header_text(v) for v in raw]
            header_number = number
            continue
        values: dict[str, str] = {h: "" for h in header if h}
        for i, text in enumerate(cells):
            if i < len(header) and header[i]:
                values[header[i]] = text
            elif text:
                stray.setdefault(i, number)
        rows.append(Row(number, values))
    if header is None:
        raise ImportFileError(f"文件「{name}」是空的：没有表头，也没有数据")
    errors: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        if not h:
            continue
        if h in seen:
            errors.append(
                f"第{header_number}行：列名「{h}」出现了两次（{_column_letter(seen[h])}列和{_column_letter(i)}列）"
            )
        else:
            seen[h] = i
    for i, first in sorted(stray.items()):
        errors.append(f"第{first}行{_column_letter(i)}列：该列有数据，但第{header_number}行没有列名")
    if errors:
        raise ImportFileError(errors)
    # Leading blank rows are tolerated; numbers stay as Excel shows them.
    return RowList(rows, [h for h in header if h], header_number)


class RowList(list):
    """The rows of a file, remembering its header (so a header-only file can still be checked)."""

    def __init__(self, rows: Iterable[Row], headers: Sequence[str], header_row: int = 1) -> None:
        super().__init__(rows)
        self.headers = list(headers)
        self.header_row = header_row


def _read_excel(path: Path) -> list[Row]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and openpyxl errors all mean "not a workbook"
        raise ImportFileError(f"无法读取文件「{path.name}」：不是有效的 Excel 文件（{type(exc).__name__}）") from exc
    try:
        if not wb.worksheets:
            raise ImportFileError(f"文件「{path.name}」里没有工作表")
        ws = wb.worksheets[0]
        try:
            raw = [tuple(r) for r in ws.iter_rows(values_only=True)]
        except Exception as exc:
            raise ImportFileError(f"无法读取文件「{path.name}」的第一个工作表（{type(exc).__name__}）") from exc
    finally:
        wb.close()
    return _rows_from_matrix(raw, path.name)


def _decode_csv(path: Path, data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(f"无法读取文件「{path.name}」：编码无法识别，请在 Excel 中另存为“CSV UTF-8（逗号分隔）”")


def _read_csv(path: Path) -> list[Row]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"无法读取文件「{path.name}」：{exc.strerror or exc}") from exc
    text = _decode_csv(path, data)
    try:
        raw = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ImportFileError(f"无法读取文件「{path.name}」：CSV 格式错误（{exc}）") from exc
    return _rows_from_matrix(raw, path.name)


def read_rows(path: str | Path) -> list[Row]:
    """The data rows of the file's first sheet; raises :class:`ImportFileError` for file-level problems.

    The returned list also carries ``.headers`` (the column names of the header row).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        hint = "；.xls 旧格式请在 Excel 中另存为 .xlsx" if suffix == ".xls" else ""
        raise ImportFileError(f"不支持的文件类型「{path.suffix or '（无扩展名）'}」：请使用 .xlsx 或 .csv 文件{hint}")
    if not path.exists():
        raise ImportFileError(f"找不到文件「{path}」")
    if not path.is_file():
        raise ImportFileError(f"「{path}」不是文件")
    if suffix in SUPPORTED_EXCEL:
        return _read_excel(path)
    return _read_csv(path)


# --- validation helpers --------------------------------------------------------------------------


def _err(row: Row, column: str, problem: str) -> str:
    return f"第{row.number}行「{column}」：{problem}"


def _headers_of(rows: Sequence[Row]) -> list[str]:
    headers = getattr(rows, "headers", None)
    if headers is not None:
        return list(headers)
    seen: dict[str, None] = {}
    for row in rows:
        for h in row.values:
            seen.setdefault(h, None)
    return list(seen)


def _check_headers(rows: Sequence[Row], allowed: Sequence[str], required: Sequence[str], what: str) -> list[str]:
    headers = _headers_of(rows)
    line = getattr(rows, "header_row", 1)
    errors: list[str] = []
    unknown = [h for h in headers if h not in allowed]
    if unknown:
        errors.append(
            f"第{line}行：无法识别的列{'、'.join(f'「{h}」' for h in unknown)}"
            f"（{what}文件可用的列：{'、'.join(allowed)}）"
        )
    missing = [h for h in required if h not in headers]
    if missing:
        errors.append(
            f"第{line}行：缺少必填的列{'、'.join(f'「{h}」' for h in missing)}"
            f"（{what}文件必须有：{'、'.join(required)}）"
        )
    if not errors and not rows:
        errors.append(f"文件中没有数据：第{line}行表头之后至少要有一行{what}")
    return errors


def _check_length(row: Row, column: str, value: str, limit: int, errors: list[str]) -> None:
    if len(value) > limit:
        errors.append(_err(row, column, f"太长（{len(value)}个字，最多{limit}个字）"))


def normalize_phone(text: str) -> str | None:
    """Digits only (full-width digits, spaces and dashes accepted); None when it is not a phone number."""
    phone = unicodedata.normalize("NFKC", text)
    phone = "".join(ch for ch in phone if not ch.isspace() and ch != "-")
    if not phone.isascii() or not phone.isdigit() or not PHONE_MIN <= len(phone) <= PHONE_MAX:
        return None
    return phone


def split_roles(text: str) -> list[str]:
    for sep in ROLE_SEPARATORS:
        text = text.replace(sep, " ")
    return text.split()


# --- units ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _UnitSpec:
    row: Row
    name: str
    kind: str
    active: bool | None  # None: not given


def _validate_unit_rows(rows: Sequence[Row]) -> tuple[list[_UnitSpec], list[str]]:
    errors: list[str] = []
    specs: list[_UnitSpec] = []
    first_row: dict[str, int] = {}
    kinds = "、".join(UNIT_KINDS)
    for row in rows:
        before = len(errors)
        name, kind, state = row.get(U_NAME), row.get(U_KIND), row.get(U_STATE)
        if not name:
            errors.append(_err(row, U_NAME, "不能为空"))
        else:
            _check_length(row, U_NAME, name, UNIT_NAME_MAX, errors)
        if not kind:
            errors.append(_err(row, U_KIND, f"不能为空（可选：{kinds}）"))
        elif kind not in UNIT_KINDS:
            errors.append(_err(row, U_KIND, f"“{kind}”不是有效的单位类型（可选：{kinds}）"))
        active: bool | None = None
        if state:
            if state not in STATES:
                errors.append(_err(row, U_STATE, f"“{state}”不是有效的状态（可选：启用、停用，留空为启用）"))
            else:
                active = STATES[state]
        if name:
            if name in first_row:
                errors.append(_err(row, U_NAME, f"“{name}”与第{first_row[name]}行重复"))
            else:
                first_row[name] = row.number
        if len(errors) == before:
            specs.append(_UnitSpec(row, name, kind, active))
    return specs, errors


async def import_units(session: AsyncSession, rows: Sequence[Row], now: datetime) -> ImportResult:
    """Create or update the units of the file; with any error, write nothing and report them all."""
    result = ImportResult()
    result.errors = _check_headers(rows, UNIT_COLUMNS, UNIT_REQUIRED, "单位")
    if result.errors:
        return result
    specs, result.errors = _validate_unit_rows(rows)
    if result.errors:
        return result

    existing = {u.name: u for u in (await session.scalars(select(Unit))).all()}
    for spec in specs:
        unit = existing.get(spec.name)
        if unit is None:
            session.add(
                Unit(
                    name=spec.name, kind=spec.kind, active=True if spec.active is None else spec.active, created_at=now
                )
            )
            result.created += 1
            continue
        changed = False
        if unit.kind != spec.kind:
            unit.kind = spec.kind
            changed = True
        if spec.active is not None and unit.active != spec.active:
            unit.active = spec.active
            changed = True
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1
    await session.flush()
    return result


# --- people --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PersonSpec:
    row: Row
    name: str
    unit_name: str  # "" for unit-less roles
    roles: tuple[str, ...]
    phone: str | None
    title: str | None
    principal: bool = False  # 角色 said 主要领导 (issue 12): the leader row is flagged principal


def _validate_people_rows(rows: Sequence[Row]) -> tuple[list[_PersonSpec], list[str]]:
    errors: list[str] = []
    specs: list[_PersonSpec] = []
    first_row: dict[tuple[str, str], int] = {}
    role_choices = "、".join(ROLE_NAMES.values())
    unit_role_names = "、".join(ROLE_NAMES[r] for r in ROLE_NAMES if r in UNIT_ROLES)
    for row in rows:
        before = len(errors)
        name, unit_name = row.get(P_NAME), row.get(P_UNIT)
        roles_text, phone_text, title = row.get(P_ROLES), row.get(P_PHONE), row.get(P_TITLE)

        if not name:
            errors.append(_err(row, P_NAME, "不能为空"))
        else:
            _check_length(row, P_NAME, name, PERSON_NAME_MAX, errors)

        roles: list[str] = []
        roles_ok = True
        if not roles_text:
            errors.append(_err(row, P_ROLES, f"不能为空（可选：{role_choices}）"))
            roles_ok = False
        else:
            unknown = []
            for part in split_roles(roles_text):
                code = parse_role(part)
                if code is None:
                    unknown.append(part)
                elif code not in roles:
                    roles.append(code)
            if unknown:
                errors.append(
                    _err(row, P_ROLES, f"{'、'.join(f'“{u}”' for u in unknown)}不是有效的角色（可选：{role_choices}）")
                )
                roles_ok = False
            elif any(r in UNIT_ROLES for r in roles) and any(r not in UNIT_ROLES for r in roles):
                others = "、".join(ROLE_NAMES[r] for r in roles if r not in UNIT_ROLES)
                errors.append(_err(row, P_ROLES, f"{others}不属于任何单位，不能与{unit_role_names}写在同一行"))
                roles_ok = False

        if roles_ok:
            if any(r in UNIT_ROLES for r in roles):
                if not unit_name:
                    needs = "、".join(ROLE_NAMES[r] for r in roles if r in UNIT_ROLES)
                    errors.append(_err(row, P_UNIT, f"不能为空：{needs}必须填写所属单位"))
            elif unit_name:
                names = "、".join(ROLE_NAMES[r] for r in roles)
                errors.append(_err(row, P_UNIT, f"应为空：{names}不属于任何单位（填写的是“{unit_name}”）"))
        if unit_name:
            _check_length(row, P_UNIT, unit_name, UNIT_NAME_MAX, errors)

        phone: str | None = None
        if phone_text:
            phone = normalize_phone(phone_text)
            if phone is None:
                errors.append(
                    _err(
                        row,
                        P_PHONE,
                        f"“{phone_text}”不是有效的电话号码（应为{PHONE_MIN}–{PHONE_MAX}位数字，可含空格和-）",
                    )
                )

        if title:
            _check_length(row, P_TITLE, title, TITLE_MAX, errors)

        if name and roles_ok:
            key = (name, unit_name if any(r in UNIT_ROLES for r in roles) else "")
            if key in first_row:
                where = f"（{key[1]}）" if key[1] else "（无单位）"
                errors.append(_err(row, P_NAME, f"“{name}”{where}与第{first_row[key]}行重复"))
            else:
                first_row[key] = row.number

        if len(errors) == before:
            principal = PRINCIPAL_LEADER in split_roles(roles_text or "")
            specs.append(_PersonSpec(row, name, unit_name, tuple(roles), phone, title or None, principal))
    return specs, errors


def _close_unit_names(name: str, units: Iterable[Unit]) -> list[str]:
    probe = name[:2]
    return sorted((u.name for u in units if probe and probe in u.name), key=len)[:5]


def _describe(person: Person) -> str:
    roles = "、".join(ROLE_NAMES[r] for r in ROLE_NAMES if r in person.roles) or "无角色"
    return f"{person.name}（{person.unit.name + '，' if person.unit else ''}{roles}）"


async def import_people(
    session: AsyncSession,
    rows: Sequence[Row],
    now: datetime,
    *,
    full: bool = False,
    keep_telegram_ids: Iterable[int] = (),
    confirmed: Sequence[str] | None = None,
) -> ImportResult:
    """Create or update the people of the file (roles only added); with any error, write nothing.

    ``full``: the file is the whole directory. ``result.leaving`` lists the active people missing
    from it; they are marked as leaving only when ``confirmed`` is that very list (what the office
    saw and confirmed), otherwise nothing about them is written."""
    result = ImportResult()
    result.errors = _check_headers(rows, PEOPLE_COLUMNS, PEOPLE_REQUIRED, "人员")
    if result.errors:
        return result
    specs, errors = _validate_people_rows(rows)

    units = {u.name: u for u in (await session.scalars(select(Unit))).all()}
    people: dict[tuple[str, int | None], list[Person]] = {}
    for p in (await session.scalars(select(Person).order_by(Person.id))).unique().all():
        people.setdefault((p.name, p.unit_id), []).append(p)

    resolved: list[tuple[_PersonSpec, Unit | None, Person | None]] = []
    for spec in specs:
        unit: Unit | None = None
        if spec.unit_name:
            unit = units.get(spec.unit_name)
            if unit is None:
                close = _close_unit_names(spec.unit_name, units.values())
                hint = f"（相近的单位：{'、'.join(close)}）" if close else "（请先导入单位）"
                errors.append(_err(spec.row, P_UNIT, f"找不到单位“{spec.unit_name}”{hint}"))
                continue
        matches = people.get((spec.name, unit.id if unit else None), [])
        if len(matches) > 1:
            where = f"单位“{unit.name}”" if unit else "无单位人员"
            errors.append(
                _err(spec.row, P_NAME, f"数据库中{where}里有{len(matches)}位“{spec.name}”，无法确定要更新哪一位")
            )
            continue
        resolved.append((spec, unit, matches[0] if matches else None))

    if errors:
        result.errors = sorted(errors, key=_error_order)
        return result

    if full:
        listed = {id(p) for _, _, p in resolved if p is not None}
        keep = set(keep_telegram_ids)
        missing = [
            p
            for group in people.values()
            for p in group
            if p.active and id(p) not in listed and (p.telegram_id is None or p.telegram_id not in keep)
        ]
        missing.sort(key=lambda p: (p.unit.name if p.unit else "", p.name, p.id))
        result.leaving = [_describe(p) for p in missing]
        if confirmed is not None and list(confirmed) != result.leaving:
            result.errors = ["名单在确认期间发生了变化，请重新运行并核对要标记离岗的人员"]
            return result
        if missing and confirmed is not None:
            from bot.domain.people import leave  # the same departure as /people's 停用

            session.info["action"] = "person.leave_import"
            for p in missing:
                await leave(session, p, now=now, reason="import")
            session.info["action"] = "people.import"
            result.left = len(missing)

    for spec, unit, person in resolved:
        if person is None:
            person = Person(
                name=spec.name,
                unit_id=unit.id if unit else None,
                phone=spec.phone,
                title=spec.title,
                created_at=now,
            )
            for role in spec.roles:
                person.role_rows.append(PersonRole(role=role, principal=spec.principal and role == "leader"))
            session.add(person)
            result.created += 1
            continue
        changed = False
        if spec.phone is not None and person.phone != spec.phone:
            person.phone = spec.phone
            changed = True
        if spec.title is not None and person.title != spec.title:
            person.title = spec.title
            changed = True
        have = person.roles
        for role in spec.roles:
            if role not in have:
                person.role_rows.append(PersonRole(role=role, principal=spec.principal and role == "leader"))
                changed = True
        for r in person.role_rows:  # like roles, the principal flag is only ever added by an import
            if spec.principal and r.role == "leader" and not r.principal:
                r.principal = True
                changed = True
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1
    await session.flush()
    return result


def _error_order(line: str) -> tuple[int, str]:
    """Row-level errors are reported in row order, whichever check found them."""
    if line.startswith("第") and "行" in line:
        digits = line[1 : line.index("行")]
        if digits.isdigit():
            return int(digits), ""
    return 0, line


# --- CLI -----------------------------------------------------------------------------------------


class _Rollback(Exception):
    """Raised inside the session so that nothing of a failed import can be committed."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("import failed")
        self.result = result


def _report_errors(errors: Sequence[str], err: TextIO) -> int:
    for line in errors:
        print(line, file=err)
    print(f"未导入任何数据：共{len(errors)}处错误", file=err)
    return 2


class _DryRun(Exception):
    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


async def _leaving(db, rows: Sequence[Row], keep: Sequence[int]) -> ImportResult:  # noqa: ANN001
    """A full import's first reading, always rolled back: its errors, or who would be leaving."""
    try:
        async with db.session(Actor.system("import"), "people.import") as session:
            raise _DryRun(await import_people(session, rows, db.now(), full=True, keep_telegram_ids=keep))
    except _DryRun as dry:
        return dry.result


async def run_import(
    db,  # noqa: ANN001
    kind: str,
    path: str | Path,
    out: TextIO,
    err: TextIO,
    *,
    full: bool = False,
    confirm: Callable[[], bool] | None = None,
    keep_telegram_ids: Sequence[int] = (),
) -> int:
    """``python -m bot import units|people FILE [--full [--yes]]``: 0 when imported, 2 when nothing
    was (errors on ``err``), 1 when the office did not confirm a full import's departures.

    ``confirm`` asks whether the listed people are leaving (None: nobody can be asked)."""
    if kind not in KINDS:
        return _report_errors([f"未知的导入类型「{kind}」（可选：units 单位、people 人员）"], err)
    if full and kind != "people":
        return _report_errors(["完整导入（--full）只适用于人员名单：单位不会因为不在文件中而停用"], err)
    try:
        rows = read_rows(path)
    except ImportFileError as exc:
        return _report_errors(exc.errors, err)
    confirmed: list[str] | None = None
    if full:
        first = await _leaving(db, rows, keep_telegram_ids)
        if first.errors:
            return _report_errors(first.errors, err)
        if first.leaving:
            print(
                f"以下{len(first.leaving)}人不在本次完整名单中，确认后将标记为离岗"
                "（账号停用、邀请链接作废、不再发送消息，并通知本人）：",
                file=out,
            )
            for line in first.leaving:
                print(f"  {line}", file=out)
            if confirm is None:
                print("未导入任何数据：完整导入需要确认。请核对以上名单，无误后加 --yes 重新运行。", file=err)
                return 2
            if not confirm():
                print("已取消，未导入任何数据。", file=out)
                return 1
        confirmed = first.leaving
    try:
        async with db.session(Actor.system("import"), f"{kind}.import") as session:
            if kind == "units":
                result = await import_units(session, rows, db.now())
            else:
                result = await import_people(
                    session, rows, db.now(), full=full, keep_telegram_ids=keep_telegram_ids, confirmed=confirmed
                )
            if result.errors:
                raise _Rollback(result)
    except _Rollback as failed:
        return _report_errors(failed.result.errors, err)
    print(f"{KIND_NAMES[kind]}{result.summary()}", file=out)
    return 0
