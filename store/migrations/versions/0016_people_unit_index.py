"""people: an index on unit_id (a unit's liaisons and heads, looked up per share by the escalation sweep)

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 11: the sweep's repeat-round filter asks, per overdue share, whether each of its
    # unit's people has today's rung; without the index that is a scan of every person per share.
    op.create_index("ix_people_unit_id", "people", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_people_unit_id", table_name="people")
