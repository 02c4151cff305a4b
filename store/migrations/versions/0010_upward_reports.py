"""upward_reports: the monthly 督查工作情况报告 and the office head's decision on it

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 12 point 9: the office reports its work upward (regulation §7(一)); each report built
    # is a row, approved by the office head before it reaches the leaders.
    op.create_table(
        "upward_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("file_path", sa.String(length=500), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", store.types.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["decided_by_id"], ["people.id"], name=op.f("fk_upward_reports_decided_by_id_people")),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["people.id"], name=op.f("fk_upward_reports_requested_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upward_reports")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_upward_reports_dedupe_key")),
    )
    with op.batch_alter_table("upward_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upward_reports_period"), ["period"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("upward_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upward_reports_period"))
    op.drop_table("upward_reports")
