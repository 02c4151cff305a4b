"""items: the due dates a list sorts by (owing_due, lead_due), kept by triggers on assignments

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Issue 11: /items sorts by an item's light (the earliest due date still owed) and the lead
# unit's due date. Computed per request from assignments that costs a pass over every visible
# item's assignments; stored on the item, the list is a plain indexed read. Triggers keep them,
# so every writer (the domain's ORM, bulk statements, migrations, the sandbox) stays correct
# without knowing about them.
# ``{plus}`` is SQLite's unary + on a column: it keeps the planner on the item_id index (without
# statistics it may pick ix_assignments_state_due and scan every open assignment per row).
REFRESH = """
UPDATE items SET
  owing_due = (SELECT min(due_date) FROM assignments
               WHERE item_id = {id} AND {plus}state IN ('assigned', 'in_progress')),
  lead_due = (SELECT min(due_date) FROM assignments
              WHERE item_id = {id} AND {plus}role = 'lead' AND {plus}state <> 'transferred')
WHERE id = {id}
"""
WATCHED = "state, due_date, role, item_id"


def _sqlite_triggers() -> list[str]:
    refresh = REFRESH.replace("{plus}", "+")
    return [
        f"CREATE TRIGGER trg_assignments_dues_insert AFTER INSERT ON assignments BEGIN "
        f"{refresh.format(id='NEW.item_id')}; END",
        f"CREATE TRIGGER trg_assignments_dues_update AFTER UPDATE OF {WATCHED} ON assignments BEGIN "
        f"{refresh.format(id='OLD.item_id')}; END",
        f"CREATE TRIGGER trg_assignments_dues_moved AFTER UPDATE OF item_id ON assignments "
        f"WHEN NEW.item_id IS NOT OLD.item_id BEGIN {refresh.format(id='NEW.item_id')}; END",
        f"CREATE TRIGGER trg_assignments_dues_delete AFTER DELETE ON assignments BEGIN "
        f"{refresh.format(id='OLD.item_id')}; END",
    ]


def _postgresql_triggers() -> list[str]:
    return [
        f"CREATE FUNCTION items_refresh_dues(iid integer) RETURNS void LANGUAGE sql AS $$"
        f"{REFRESH.replace('{plus}', '').format(id='iid')}$$",
        "CREATE FUNCTION assignments_dues_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP <> 'INSERT' THEN PERFORM items_refresh_dues(OLD.item_id); END IF; "
        "IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.item_id IS DISTINCT FROM OLD.item_id) THEN "
        "PERFORM items_refresh_dues(NEW.item_id); END IF; "
        "RETURN NULL; END $$",
        f"CREATE TRIGGER trg_assignments_dues AFTER INSERT OR UPDATE OF {WATCHED} OR DELETE ON assignments "
        "FOR EACH ROW EXECUTE FUNCTION assignments_dues_changed()",
    ]


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owing_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("lead_due", sa.Date(), nullable=True))
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_triggers() if sqlite else _postgresql_triggers():
        op.execute(statement)
    refresh = REFRESH.replace("{plus}", "+" if sqlite else "")
    op.execute(refresh.format(id="items.id").replace("WHERE id = items.id", ""))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "moved", "delete"):
            op.execute(f"DROP TRIGGER trg_assignments_dues_{name}")
    else:
        op.execute("DROP TRIGGER trg_assignments_dues ON assignments")
        op.execute("DROP FUNCTION assignments_dues_changed()")
        op.execute("DROP FUNCTION items_refresh_dues(integer)")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("lead_due")
        batch_op.drop_column("owing_due")
