"""Single sign-on: an account's identity at the city's OpenID Connect provider, and break-glass.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN and a unique index: no table rebuild on SQLite, where
    # rebuilding user_account would cascade into every table that refers to it.
    # "local": a password account (the embedded default, break-glass);
    # "oidc": roles and scopes come from the provider's groups at each sign-in.
    op.add_column(
        "user_account",
        sa.Column("identity_source", sa.String(length=20), nullable=False, server_default="local"),
    )
    op.add_column("user_account", sa.Column("oidc_issuer", sa.String(length=500), nullable=True))
    op.add_column("user_account", sa.Column("oidc_subject", sa.String(length=255), nullable=True))
    op.add_column(
        "user_account",
        sa.Column("break_glass", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "uq_user_account_oidc_identity",
        "user_account",
        ["oidc_issuer", "oidc_subject"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_user_account_oidc_identity", table_name="user_account")
    # Plain DROP COLUMN (SQLite 3.35+): no rebuild of the table others refer to.
    for column in ("break_glass", "oidc_subject", "oidc_issuer", "identity_source"):
        op.drop_column("user_account", column)
