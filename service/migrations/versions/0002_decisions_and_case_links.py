"""DMN decisions frozen with each definition version; links between cases.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("process_definition") as batch_op:
        batch_op.add_column(sa.Column("decisions", JSON, nullable=False, server_default="{}"))
    op.create_table(
        "case_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_instance_id", sa.Integer(), nullable=False),
        sa.Column("to_instance_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["from_instance_id"], ["process_instance.id"]),
        sa.ForeignKeyConstraint(["to_instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_link_from_instance_id", "case_link", ["from_instance_id"])
    op.create_index("ix_case_link_to_instance_id", "case_link", ["to_instance_id"])


def downgrade() -> None:
    op.drop_index("ix_case_link_to_instance_id", table_name="case_link")
    op.drop_index("ix_case_link_from_instance_id", table_name="case_link")
    op.drop_table("case_link")
    with op.batch_alter_table("process_definition") as batch_op:
        batch_op.drop_column("decisions")
