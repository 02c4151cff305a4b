"""分工 per unit and items the office handles itself (issue 12 point 6)

assignments.task: a unit's own task (分工任务, §4(五), §5(二)); NULL means the item's requirements.
items.office_handled: 督查室自办 (§5(二)): no unit is assigned; the office reports the result.
office_reports: the office's own 办理结果 for such an item (a unit's goes to completion_reports).

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite adds them in place (assignments carries the 0009 triggers and is
    # referenced by many tables, so it must never be recreated).
    op.add_column("assignments", sa.Column("task", sa.Text(), nullable=True))
    op.add_column("items", sa.Column("office_handled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "office_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_office_reports_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["people.id"], name=op.f("fk_office_reports_created_by_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_office_reports")),
    )
    op.create_index(op.f("ix_office_reports_item_id"), "office_reports", ["item_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_office_reports_item_id"), table_name="office_reports")
    op.drop_table("office_reports")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("office_handled")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("task")
