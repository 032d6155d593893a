"""Second factor (TOTP and recovery codes), session epochs, and field encryption of case data.

The encrypted columns keep their types (process_instance.state is text,
human_task.submitted_data JSON holding one encrypted JSON string), so no
table is rewritten; the existing rows are encrypted here under the current
field key (TRYGG_FIELD_KEYS, or instance/field_keys), in this migration's
transaction. The downgrade decrypts them again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_second_factor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("last_counter", sa.BigInteger(), nullable=True),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    op.create_table(
        "user_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_recovery_code_user_id", "user_recovery_code", ["user_id"])
    # A plain ADD COLUMN: rebuilding user_account on SQLite would cascade.
    op.add_column(
        "user_account",
        sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
    )

    from service.crypto.rotation import rotate_in_transaction

    rotate_in_transaction(op.get_bind())


def downgrade() -> None:
    from service.crypto.rotation import rotate_in_transaction

    rotate_in_transaction(op.get_bind(), decrypt=True)
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of user_account would
    # trip over the foreign keys that point at it.
    op.execute("ALTER TABLE user_account DROP COLUMN session_epoch")
    op.drop_index("ix_user_recovery_code_user_id", table_name="user_recovery_code")
    op.drop_table("user_recovery_code")
    op.drop_table("user_second_factor")
