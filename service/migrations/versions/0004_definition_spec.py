"""The engine spec of each definition version, kept once instead of in every case.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("process_definition") as batch_op:
        batch_op.add_column(sa.Column("spec_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_definition") as batch_op:
        batch_op.drop_column("spec_json")
