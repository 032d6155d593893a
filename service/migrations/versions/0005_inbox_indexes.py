"""Inbox indexes: open tasks by role in due order, and by assignee.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_human_task_inbox", table_name="human_task")
    op.create_index("ix_human_task_inbox", "human_task", ["status", "role", "due_at"])
    op.create_index("ix_human_task_assignee", "human_task", ["assignee_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_human_task_assignee", table_name="human_task")
    op.drop_index("ix_human_task_inbox", table_name="human_task")
    op.create_index("ix_human_task_inbox", "human_task", ["status", "role"])
