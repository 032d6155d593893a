"""Inbox claims and priority: who took a task when, how urgent it is, and sorting indexes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it natively): no table rebuild, which on
    # SQLite would drop a table that the audit trail and notifications refer to.
    # Existing tasks are normal priority until their case next moves (the rule
    # in service/tasks/priority.py then sets it from the case's data).
    op.add_column(
        "human_task",
        sa.Column("priority", sa.Integer(), nullable=False, server_default=sa.text("3")),
    )
    op.add_column("human_task", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_human_task_priority", "human_task", ["status", "role", "priority", "due_at"]
    )
    op.create_index("ix_human_task_created", "human_task", ["status", "role", "created_at"])
    op.create_index("ix_human_task_completed_by", "human_task", ["completed_by_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_human_task_completed_by", table_name="human_task")
    op.drop_index("ix_human_task_created", table_name="human_task")
    op.drop_index("ix_human_task_priority", table_name="human_task")
    # DROP COLUMN is native in SQLite since 3.35, once the columns' indexes are gone.
    op.drop_column("human_task", "claimed_at")
    op.drop_column("human_task", "priority")
