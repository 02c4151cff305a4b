"""item_events: an item's business history, written by the domain; backfilled from the records

The backfill reads the records and, for submissions, the audit log. (Alembic logs the first
paragraph as one line at start-up: keep it on one line.)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Issue 10 item 6: the dossier read submissions from audit rows. From now on the domain writes
# each moment of an item's story as an event; items from before keep their history through the
# backfill below: every moment the dossier showed, rebuilt from the rows it was read from, in
# the order the dossier sorted them (time, then kind, then record id).
COLUMNS = "(item_id, assignment_id, kind, at, actor_id, ref_id)"
BACKFILL = [
    "SELECT id, NULL, 'register', created_at, created_by_id, NULL FROM items ORDER BY id",
    "SELECT item_id, NULL, CASE WHEN approved THEN 'approve' ELSE 'reject' END, decided_at, decided_by_id, id "
    "FROM item_approvals ORDER BY id",
    "SELECT item_id, id, 'notice', notified_at, NULL, NULL FROM assignments WHERE notified_at IS NOT NULL ORDER BY id",
    "SELECT item_id, id, 'acknowledge', acknowledged_at, acknowledged_by_id, NULL FROM assignments "
    "WHERE acknowledged_at IS NOT NULL ORDER BY id",
    "SELECT item_id, id, 'decline', declined_at, NULL, NULL FROM assignments WHERE declined_at IS NOT NULL ORDER BY id",
    "SELECT a.item_id, p.assignment_id, 'plan', p.created_at, p.created_by_id, p.id "
    "FROM plans p JOIN assignments a ON a.id = p.assignment_id ORDER BY p.id",
    "SELECT a.item_id, p.assignment_id, 'milestone', m.done_at, m.done_by_id, m.id "
    "FROM milestones m JOIN plans p ON p.id = m.plan_id JOIN assignments a ON a.id = p.assignment_id "
    "WHERE m.done_at IS NOT NULL ORDER BY p.id, m.due_date, m.id",
    "SELECT a.item_id, x.assignment_id, 'progress', x.created_at, x.created_by_id, x.id "
    "FROM progress x JOIN assignments a ON a.id = x.assignment_id ORDER BY x.id",
    "SELECT a.item_id, x.assignment_id, 'extension_request', x.requested_at, x.requested_by_id, x.id "
    "FROM extension_requests x JOIN assignments a ON a.id = x.assignment_id ORDER BY x.id",
    "SELECT a.item_id, x.assignment_id, 'extension_decision', x.decided_at, x.decided_by_id, x.id "
    "FROM extension_requests x JOIN assignments a ON a.id = x.assignment_id WHERE x.decided_at IS NOT NULL ORDER BY x.id",
    "SELECT a.item_id, x.assignment_id, 'transfer_request', x.requested_at, x.requested_by_id, x.id "
    "FROM transfers x JOIN assignments a ON a.id = x.assignment_id ORDER BY x.id",
    "SELECT a.item_id, x.assignment_id, 'transfer_decision', x.decided_at, x.decided_by_id, x.id "
    "FROM transfers x JOIN assignments a ON a.id = x.assignment_id WHERE x.decided_at IS NOT NULL ORDER BY x.id",
    "SELECT a.item_id, x.assignment_id, 'report', x.created_at, x.created_by_id, x.id "
    "FROM completion_reports x JOIN assignments a ON a.id = x.assignment_id ORDER BY x.id",
    "SELECT a.item_id, c.assignment_id, 'review', r.reviewed_at, r.reviewed_by_id, r.id "
    "FROM reviews r JOIN completion_reports c ON c.id = r.report_id JOIN assignments a ON a.id = c.assignment_id "
    "ORDER BY r.id",
    "SELECT item_id, assignment_id, CASE WHEN form = 'phone' THEN 'call' ELSE 'visit' END, occurred_at, "
    "recorded_by_id, id FROM supervision_records ORDER BY id",
    "SELECT item_id, assignment_id, 'call_answer', confirmed_at, confirmed_by_id, id FROM supervision_records "
    "WHERE form = 'phone' AND confirmed_at IS NOT NULL ORDER BY id",
    "SELECT item_id, NULL, 'bulletin', issued_at, issued_by_id, id FROM bulletins ORDER BY id",
    "SELECT item_id, NULL, 'leader_review', created_at, leader_id, id FROM leader_reviews ORDER BY id",
    "SELECT id, NULL, 'close', closed_at, NULL, NULL FROM items WHERE closed_at IS NOT NULL ORDER BY id",
    "SELECT id, NULL, 'archive', archived_at, archived_by_id, NULL FROM items WHERE archived_at IS NOT NULL ORDER BY id",
]


def backfill(conn: sa.Connection) -> None:
    """Events for the items written before there were events (also run by the tests)."""
    for select in BACKFILL:
        conn.execute(sa.text(f"INSERT INTO item_events {COLUMNS} {select}"))
    # Submissions were only in the audit log: the item rows its hook wrote as the state moved to
    # pending under the action item.submit.
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("at", store.types.UTCDateTime()),
        sa.column("actor_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("entity", sa.String),
        sa.column("entity_id", sa.String),
        sa.column("after", sa.JSON),
    )
    events = sa.table(
        "item_events",
        sa.column("item_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("at", store.types.UTCDateTime()),
        sa.column("actor_id", sa.Integer),
    )
    rows = conn.execute(
        sa.select(audit.c.entity_id, audit.c.at, audit.c.actor_id, audit.c.after)
        .where(audit.c.entity == "items", audit.c.action == "item.submit")
        .order_by(audit.c.id)
    ).all()
    submits = [
        {"item_id": int(entity_id), "kind": "submit", "at": at, "actor_id": actor_id}
        for entity_id, at, actor_id, after in rows
        if (after or {}).get("state") == "pending"
    ]
    if submits:
        conn.execute(sa.insert(events), submits)


def upgrade() -> None:
    op.create_table(
        "item_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("at", store.types.UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["people.id"], name=op.f("fk_item_events_actor_id_people")),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_item_events_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_events_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_events")),
    )
    with op.batch_alter_table("item_events", schema=None) as batch_op:
        batch_op.create_index("ix_item_events_item", ["item_id", "id"], unique=False)
    backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("item_events", schema=None) as batch_op:
        batch_op.drop_index("ix_item_events_item")
    op.drop_table("item_events")
