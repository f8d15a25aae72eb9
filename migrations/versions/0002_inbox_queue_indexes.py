"""inbox queue indexes: partial, ordered by due date

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN_STAFF = sa.text("status = 'open' AND NOT for_customer")
QUEUES = {
    "ix_human_task_role_queue": ["candidate_role", "due_at", "id"],
    "ix_human_task_assignee_queue": ["assignee", "due_at", "id"],
    "ix_human_task_open_queue": ["due_at", "id"],
}


def upgrade():
    with op.batch_alter_table("human_task") as batch:
        batch.drop_index("ix_human_task_inbox")
        batch.drop_index("ix_human_task_assignee")
    for name, columns in QUEUES.items():
        op.create_index(name, "human_task", columns, postgresql_where=OPEN_STAFF, sqlite_where=OPEN_STAFF)


def downgrade():
    for name in QUEUES:
        op.drop_index(name, table_name="human_task")
    with op.batch_alter_table("human_task") as batch:
        batch.create_index("ix_human_task_assignee", ["status", "assignee"])
        batch.create_index("ix_human_task_inbox", ["status", "candidate_role", "due_at"])
