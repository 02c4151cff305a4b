"""Directory import from Excel and CSV: all-or-nothing validation, idempotence, additive roles."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.domain.directory_import import ImportFileError, import_people, import_units, read_rows, run_import
from store.audit import Actor
from store.models import AuditEntry, Person, PersonRole, Unit

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


# --- helpers -------------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8-sig") -> Path:
    text = "\r\n".join(",".join("" if v is None else str(v) for v in r) for r in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


async def counts(db) -> dict[str, int]:  # noqa: ANN001
    async with db.session() as s:
        return {
            m.__tablename__: await s.scalar(select(func.count()).select_from(m))
            for m in (Unit, Person, PersonRole, AuditEntry)
        }


async def run(db, kind: str, path: Path) -> tuple[int, str, str]:  # noqa: ANN001
    out, err = io.StringIO(), io.StringIO()
    code = await run_import(db, kind, path, out, err)
    return code, out.getvalue(), err.getvalue()


UNITS = [
    ["单位名称", "类型", "状态"],
    ["城关镇", "乡镇", "启用"],
    ["青石镇", "乡镇", None],
    ["县财政局", "部门", "停用"],
]


@pytest.fixture
async def units_loaded(db, tmp_path):  # noqa: ANN001
    code, _, err = await run(db, "units", write_csv(tmp_path / "units.csv", UNITS))
    assert code == 0, err
    return db


# --- reading -------------------------------------------------------------------------------------


def test_xlsx_numbers_blank_rows_and_row_numbers(tmp_path):
    path = write_xlsx(
        tmp_path / "p.xlsx",
        [
            ["姓名", "单位", "角色", "手机", "职务"],
            ["张三", "城关镇", "联络员", 13800138000, None],
            [None, None, None, None, None],
            ["  李四 ", "城关镇", "单位负责人", 13800138001.0, "镇长"],
        ],
    )
    rows = read_rows(path)
    assert [r.number for r in rows] == [2, 4]
    assert rows[0].values == {"姓名": "张三", "单位": "城关镇", "角色": "联络员", "手机": "13800138000", "职务": ""}
    assert rows[1].get("姓名") == "李四" and rows[1].get("手机") == "13800138001"
    assert rows.headers == ["姓名", "单位", "角色", "手机", "职务"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    rows = read_rows(write_csv(tmp_path / "u.csv", UNITS, encoding))
    assert [(r.number, r.get("单位名称"), r.get("类型"), r.get("状态")) for r in rows] == [
        (2, "城关镇", "乡镇", "启用"),
        (3, "青石镇", "乡镇", ""),
        (4, "县财政局", "部门", "停用"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("u.xls", b"whatever", "不支持的文件类型「.xls」"),
        ("u.txt", b"whatever", "不支持的文件类型「.txt」"),
        ("u.xlsx", b"not a zip at all", "不是有效的 Excel 文件"),
        ("u.csv", b"", "是空的"),
        ("u.csv", b"\r\n,,\r\n", "是空的"),
        ("u.csv", b"\xff\xfe\x00\xd8\xff\xff", "编码无法识别"),
    ],
)
def test_unusable_files(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as exc:
        read_rows(path)
    assert expected in exc.value.message


def test_missing_file(tmp_path):
    with pytest.raises(ImportFileError) as exc:
        read_rows(tmp_path / "nope.csv")
    assert "找不到文件" in exc.value.message


def test_duplicate_header_and_data_without_header(tmp_path):
    path = write_csv(tmp_path / "u.csv", [["单位名称", "类型", "类型"], ["城关镇", "乡镇", "乡镇", "多余"]])
    with pytest.raises(ImportFileError) as exc:
        read_rows(path)
    assert exc.value.errors == [
        "第1行：列名「类型」出现了两次（B列和C列）",
        "第2行D列：该列有数据，但第1行没有列名",
    ]


# --- units ---------------------------------------------------------------------------------------


async def test_import_units_from_xlsx(db, clock, tmp_path):
    path = write_xlsx(tmp_path / "u.xlsx", UNITS)
    code, out, err = await run(db, "units", path)
    assert (code, err) == (0, "")
    assert "导入完成：新增 3，更新 0，未变 0" in out
    async with db.session() as s:
        units = {u.name: (u.kind, u.active, u.created_at) for u in (await s.scalars(select(Unit))).all()}
        audit = (await s.scalars(select(AuditEntry))).all()
    assert units == {
        "城关镇": ("乡镇", True, clock.now()),
        "青石镇": ("乡镇", True, clock.now()),
        "县财政局": ("部门", False, clock.now()),
    }
    assert {(a.action, a.actor_label, a.entity) for a in audit} == {("units.import", "import", "units")}
    assert len(audit) == 3


async def test_reimport_changes_nothing_and_update_changes_only_what_differs(db, clock, tmp_path):
    path = write_csv(tmp_path / "u.csv", UNITS)
    assert (await run(db, "units", path))[0] == 0
    before = await counts(db)

    clock.advance(days=1)
    code, out, _ = await run(db, "units", path)
    assert code == 0 and "新增 0，更新 0，未变 3" in out
    assert await counts(db) == before

    changed = [UNITS[0], ["城关镇", "乡镇", "停用"], ["青石镇", "直属单位", ""], ["县财政局", "部门", ""], ["柳河乡", "乡镇", ""]]
    code, out, _ = await run(db, "units", write_csv(tmp_path / "u2.csv", changed))
    assert code == 0 and "新增 1，更新 2，未变 1" in out
    async with db.session() as s:
        units = {u.name: (u.kind, u.active) for u in (await s.scalars(select(Unit))).all()}
        updates = (
            await s.scalars(select(AuditEntry).where(AuditEntry.id > before["audit_log"]).order_by(AuditEntry.id))
        ).all()
    # An empty 状态 keeps the stored state (县财政局 stays 停用); a new unit defaults to 启用.
    assert units == {
        "城关镇": ("乡镇", False),
        "青石镇": ("直属单位", True),
        "县财政局": ("部门", False),
        "柳河乡": ("乡镇", True),
    }
    changes = sorted(((a.before, a.after) for a in updates if a.before), key=str)
    assert changes == sorted(
        [({"active": True}, {"active": False}), ({"kind": "乡镇"}, {"kind": "直属单位"})], key=str
    )
    assert len(updates) == 3  # two updates and one insert, nothing for the unchanged row


async def test_bad_unit_rows_are_all_reported_and_nothing_is_written(db, tmp_path):
    path = write_csv(
        tmp_path / "u.csv",
        [
            ["类型", "单位名称", "状态"],
            ["乡镇", "城关镇", ""],
            ["街道", "东城", ""],
            ["", "西城", "关闭"],
            ["部门", "", ""],
            ["乡镇", "城关镇", ""],
            ["部门", "局" * 101, ""],
            ["部门", "好单位", ""],
        ],
    )
    before = await counts(db)
    code, out, err = await run(db, "units", path)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines == [
        "第3行「类型」：“街道”不是有效的单位类型（可选：乡镇、部门、直属单位、驻固单位、开发区、其他）",
        "第4行「类型」：不能为空（可选：乡镇、部门、直属单位、驻固单位、开发区、其他）",
        "第4行「状态」：“关闭”不是有效的状态（可选：启用、停用，留空为启用）",
        "第5行「单位名称」：不能为空",
        "第6行「单位名称」：“城关镇”与第2行重复",
        "第7行「单位名称」：太长（101个字，最多100个字）",
        "未导入任何数据：共6处错误",
    ]
    assert await counts(db) == before == {"units": 0, "people": 0, "person_roles": 0, "audit_log": 0}


async def test_header_problems(db, clock, tmp_path):
    unknown = write_csv(tmp_path / "a.csv", [["单位名称", "类型", "备注", "负责人"], ["城关镇", "乡镇", "x", "y"]])
    code, _, err = await run(db, "units", unknown)
    assert code == 2
    assert "第1行：无法识别的列「备注」、「负责人」（单位文件可用的列：单位名称、类型、状态）" in err

    missing = write_csv(tmp_path / "b.csv", [["单位名称", "状态"], ["城关镇", "启用"]])
    code, _, err = await run(db, "units", missing)
    assert code == 2 and "缺少必填的列「类型」" in err

    header_only = write_xlsx(tmp_path / "c.xlsx", [["单位名称", "类型"]])
    code, _, err = await run(db, "units", header_only)
    assert code == 2 and "文件中没有数据" in err and err.strip().endswith("未导入任何数据：共1处错误")

    # The API reports the same without the CLI.
    async with db.session() as s:
        result = await import_units(s, read_rows(missing), clock.now())
    assert result.errors and result.created == 0
    assert (await counts(db))["units"] == 0


async def test_unsupported_extension_and_missing_file_exit_codes(db, tmp_path):
    (tmp_path / "u.xls").write_bytes(b"old excel")
    code, out, err = await run(db, "units", tmp_path / "u.xls")
    assert code == 2 and out == ""
    assert err.splitlines() == ["不支持的文件类型「.xls」：请使用 .xlsx 或 .csv 文件；.xls 旧格式请在 Excel 中另存为 .xlsx",
                                "未导入任何数据：共1处错误"]
    code, _, err = await run(db, "units", tmp_path / "missing.xlsx")
    assert code == 2 and "找不到文件" in err
    code, _, err = await run(db, "teams", tmp_path / "u.xls")
    assert code == 2 and "未知的导入类型" in err


# --- people --------------------------------------------------------------------------------------

PEOPLE = [
    ["姓名", "单位", "角色", "手机", "职务"],
    ["张三", "城关镇", "联络员", "138-0013 8000", "党政办主任"],
    ["李四", "城关镇", "单位负责人、联络员", "", "镇长"],
    ["王五", "", "县领导", "", "副县长"],
    ["赵六", "", "督查室工作人员，督查室负责人", "13900000000", ""],
    ["张三", "青石镇", "联络员", "", ""],
]


async def test_import_people_xlsx_with_numeric_phone_and_multiple_roles(units_loaded, clock, tmp_path):
    db = units_loaded
    rows = [PEOPLE[0], ["张三", "城关镇", "联络员", 13800138000, "党政办主任"], *PEOPLE[2:]]
    code, out, err = await run(db, "people", write_xlsx(tmp_path / "p.xlsx", rows))
    assert (code, err) == (0, "")
    assert "新增 5，更新 0，未变 0" in out
    async with db.session() as s:
        people = (await s.scalars(select(Person).order_by(Person.id))).unique().all()
        got = {
            (p.name, p.unit.name if p.unit else None): (p.roles, p.phone, p.title, p.created_at, p.telegram_id)
            for p in people
        }
    assert got == {
        ("张三", "城关镇"): ({"liaison"}, "13800138000", "党政办主任", clock.now(), None),
        ("李四", "城关镇"): ({"unit_head", "liaison"}, None, "镇长", clock.now(), None),
        ("王五", None): ({"leader"}, None, "副县长", clock.now(), None),
        ("赵六", None): ({"office", "office_head"}, "13900000000", None, clock.now(), None),
        ("张三", "青石镇"): ({"liaison"}, None, None, clock.now(), None),
    }


async def test_people_csv_reimport_is_idempotent_and_roles_are_only_added(units_loaded, clock, tmp_path):
    db = units_loaded
    path = write_csv(tmp_path / "p.csv", PEOPLE, "gb18030")
    code, out, _ = await run(db, "people", path)
    assert code == 0 and "新增 5" in out
    before = await counts(db)

    clock.advance(hours=2)
    code, out, _ = await run(db, "people", path)
    assert code == 0 and "新增 0，更新 0，未变 5" in out
    assert await counts(db) == before  # not one audit row

    # Give 张三 an extra role in the bot; a later import without it must keep it.
    async with db.session(Actor(None, "cli"), "role.grant") as s:
        zhang = await s.scalar(select(Person).join(Unit).where(Person.name == "张三", Unit.name == "城关镇"))
        zhang.role_rows.append(PersonRole(role="unit_head"))

    changed = [
        PEOPLE[0],
        ["张三", "城关镇", "联络员", "13800138999", "党政办主任"],  # new phone
        ["李四", "城关镇", "联络员", "", ""],  # fewer roles, empty title: nothing changes
        ["王五", "", "县领导、督查室负责人", "", "副县长"],  # one more role
    ]
    code, out, _ = await run(db, "people", write_csv(tmp_path / "p2.csv", changed))
    assert code == 0 and "新增 0，更新 2，未变 1" in out
    async with db.session() as s:
        rows = (await s.scalars(select(Person))).unique().all()
        by_key = {(p.name, p.unit.name if p.unit else None): p for p in rows}
    assert by_key[("张三", "城关镇")].phone == "13800138999"
    assert by_key[("张三", "城关镇")].roles == {"liaison", "unit_head"}
    assert by_key[("李四", "城关镇")].roles == {"liaison", "unit_head"}
    assert by_key[("李四", "城关镇")].title == "镇长"
    assert by_key[("王五", None)].roles == {"leader", "office_head"}
    assert by_key[("张三", "青石镇")].phone is None
    after = await counts(db)
    assert after["people"] == before["people"]
    # role.grant (1) + phone update (1) + new role row (1)
    assert after["audit_log"] == before["audit_log"] + 3


async def test_bad_people_rows_are_all_reported_and_nothing_is_written(units_loaded, tmp_path):
    db = units_loaded
    path = write_csv(
        tmp_path / "p.csv",
        [
            ["姓名", "角色", "单位", "手机", "职务"],
            ["张三", "联络员", "城关镇", "13800138000", ""],  # fine, but must not be written
            ["李四", "联络员", "东关镇", "", ""],
            ["王五", "县领导", "城关镇", "", ""],
            ["赵六", "联络员", "", "", ""],
            ["钱七", "组长", "城关镇", "", ""],
            ["孙八", "单位负责人", "城关镇", "12ab", ""],
            ["张三", "单位负责人", "城关镇", "", ""],
            ["", "", "城关镇", "", "职" * 51],
            ["周九", "县领导、联络员", "城关镇", "", ""],
        ],
    )
    before = await counts(db)
    code, out, err = await run(db, "people", path)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "第3行「单位」：找不到单位“东关镇”（请先导入单位）",
        "第4行「单位」：应为空：县领导不属于任何单位（填写的是“城关镇”）",
        "第5行「单位」：不能为空：联络员必须填写所属单位",
        "第6行「角色」：“组长”不是有效的角色（可选：督查室工作人员、督查室负责人、县领导、联络员、单位负责人）",
        "第7行「手机」：“12ab”不是有效的电话号码（应为7–20位数字，可含空格和-）",
        "第8行「姓名」：“张三”（城关镇）与第2行重复",
        "第9行「姓名」：不能为空",
        "第9行「角色」：不能为空（可选：督查室工作人员、督查室负责人、县领导、联络员、单位负责人）",
        "第9行「职务」：太长（51个字，最多50个字）",
        "第10行「角色」：县领导不属于任何单位，不能与联络员、单位负责人写在同一行",
        "未导入任何数据：共10处错误",
    ]
    assert await counts(db) == before
    assert before["people"] == 0


async def test_unknown_unit_suggests_close_names(units_loaded, clock, tmp_path):
    rows = read_rows(write_csv(tmp_path / "p.csv", [["姓名", "单位", "角色"], ["张三", "城关", "联络员"]]))
    async with units_loaded.session() as s:
        result = await import_people(s, rows, clock.now())
    assert result.errors == ["第2行「单位」：找不到单位“城关”（相近的单位：城关镇）"]
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)


async def test_people_header_problems(units_loaded, tmp_path):
    db = units_loaded
    code, _, err = await run(db, "people", write_csv(tmp_path / "a.csv", [["姓名", "部门", "角色"], ["张三", "城关镇", "联络员"]]))
    assert code == 2
    assert "第1行：无法识别的列「部门」（人员文件可用的列：姓名、单位、角色、手机、职务）" in err
    code, _, err = await run(db, "people", write_csv(tmp_path / "b.csv", [["姓名", "单位"], ["张三", "城关镇"]]))
    assert code == 2 and "缺少必填的列「角色」" in err
    assert (await counts(db))["people"] == 0


async def test_error_inside_session_rolls_back(db, clock, tmp_path):
    """The API leaves nothing in the session when it reports errors; run_import also raises to roll back."""
    rows = read_rows(write_csv(tmp_path / "u.csv", [["单位名称", "类型"], ["城关镇", "乡镇"], ["东城", "街道"]]))
    async with db.session(Actor.system("import"), "units.import") as s:
        result = await import_units(s, rows, clock.now())
        assert result.errors == [
            "第3行「类型」：“街道”不是有效的单位类型（可选：乡镇、部门、直属单位、驻固单位、开发区、其他）"
        ]
        assert not s.new and not s.dirty
    assert await counts(db) == {"units": 0, "people": 0, "person_roles": 0, "audit_log": 0}


async def test_shipped_examples_import_cleanly(db, tmp_path):
    code, out, err = await run(db, "units", EXAMPLES / "units.csv")
    assert code == 0, err
    code, out, err = await run(db, "people", EXAMPLES / "people.csv")
    assert code == 0, err
    async with db.session() as s:
        n_units = await s.scalar(select(func.count()).select_from(Unit))
        liaisons = await s.scalar(select(func.count()).select_from(PersonRole).where(PersonRole.role == "liaison"))
    assert n_units >= 4 and liaisons >= 4
    before = await counts(db)
    assert (await run(db, "units", EXAMPLES / "units.csv"))[0] == 0
    assert (await run(db, "people", EXAMPLES / "people.csv"))[0] == 0
    assert await counts(db) == before
