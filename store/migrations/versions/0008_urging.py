"""reminders: index a round's rungs by day; drop the index on assignment_id alone

Revision ID: 0008
Revises: 0006
"""

from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 11 item 5: the escalation sweep reads the rungs already reached in its round (one
    # day's rows, however long the history), then writes the new ones once, with their message.
    # uq_reminders_round (assignment_id, person_id, level, round_date) starts with assignment_id,
    # so it already serves look-ups by assignment and the ON DELETE CASCADE; the separate index
    # only cost every rung one more index write.
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_assignment_id")
        batch_op.create_index("ix_reminders_day", ["round_date", "level"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_day")
        batch_op.create_index("ix_reminders_assignment_id", ["assignment_id"], unique=False)
