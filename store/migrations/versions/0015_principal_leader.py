"""person_roles.principal: the county's principal leader (主要领导) sees every item (issue 12)

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only meaningful on a "leader" row: the principal leader's /items is county-wide.
    with op.batch_alter_table("person_roles") as batch:
        batch.add_column(sa.Column("principal", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("person_roles") as batch:
        batch.drop_column("principal")
