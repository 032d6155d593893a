"""Designers' drafts, scenario tests kept with each version, and moves of running cases between versions.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("process_definition", sa.Column("scenarios", JSON, nullable=True))
    op.create_table(
        "process_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("base_definition_id", sa.Integer(), nullable=True),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("forms", JSON, nullable=False),
        sa.Column("decisions", JSON, nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("scenarios", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["base_definition_id"], ["process_definition.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("process_id"),
    )
    op.create_table(
        "instance_migration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=100), nullable=False),
        sa.Column("from_definition_id", sa.Integer(), nullable=False),
        sa.Column("to_definition_id", sa.Integer(), nullable=False),
        sa.Column("state_before", sa.Text(), nullable=False),
        sa.Column("lock_version_after", sa.Integer(), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reverted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reverted_by_id", sa.Integer(), nullable=True),
        sa.Column("revert_note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["from_definition_id"], ["process_definition.id"]),
        sa.ForeignKeyConstraint(["to_definition_id"], ["process_definition.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["reverted_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_instance_migration_instance", "instance_migration", ["instance_id"])
    op.create_index("ix_instance_migration_batch", "instance_migration", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_instance_migration_batch", table_name="instance_migration")
    op.drop_index("ix_instance_migration_instance", table_name="instance_migration")
    op.drop_table("instance_migration")
    op.drop_table("process_draft")
    # A plain DROP COLUMN (SQLite >= 3.35 has it): a batch rebuild of the table
    # would trip the foreign keys that process_instance holds on it.
    op.execute("ALTER TABLE process_definition DROP COLUMN scenarios")
