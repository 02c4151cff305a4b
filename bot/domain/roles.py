"""Roles and their Chinese names."""

ROLE_NAMES = {
    "office": "督查室工作人员",
    "office_head": "督查室负责人",
    "leader": "县领导",
    "liaison": "联络员",
    "unit_head": "单位负责人",
}
# What people type or see → role code (the CLI and /invite accept either).
ROLE_BY_NAME = {
    **{v: k for k, v in ROLE_NAMES.items()},
    **{k: k for k in ROLE_NAMES},
    "督查室": "office",
    "督查室主任": "office_head",
    "领导": "leader",
    "负责人": "unit_head",
}
# 主要领导 (issue 12): a 县领导 whose /items is county-wide; written in a directory's 角色 column,
# it is the leader role with the principal flag (store.models.PersonRole.principal).
PRINCIPAL_LEADER = "主要领导"
ROLE_BY_NAME[PRINCIPAL_LEADER] = "leader"
UNIT_ROLES = frozenset({"liaison", "unit_head"})
OFFICE_ROLES = frozenset({"office", "office_head"})


def parse_role(text: str) -> str | None:
    return ROLE_BY_NAME.get(text.strip())
