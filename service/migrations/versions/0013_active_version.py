"""The active version of a process is the one activated last, so an older version can be made active again.

Until now the newest version number was the active one. Existing rows are
activated as of their creation, which keeps that order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild of the table would trip the foreign
    # keys that process_instance holds on it (SQLite).
    op.add_column(
        "process_definition", sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE process_definition SET activated_at = created_at")


def downgrade() -> None:
    op.execute("ALTER TABLE process_definition DROP COLUMN activated_at")
