"""Retention (disposal records, legal holds), release decisions; audit events outlive their case.

The audit trail keeps the events of a disposed case (ids, field names and
outcomes only), so ``audit_event.instance_id`` and ``human_task_id`` stop
being foreign keys: they become plain ids that may name a case that no longer
exists. The rows themselves are not touched (they are sealed in the HMAC
chain); on SQLite the table is rebuilt without the two references and its
append-only triggers are put back.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
CASE_REFERENCES = {"process_instance": "instance_id", "human_task": "human_task_id"}


def upgrade() -> None:
    op.create_table(
        "disposal_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("record_type", sa.String(length=30), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("process_id", sa.String(length=100), nullable=True),
        sa.Column("process_version", sa.Integer(), nullable=True),
        sa.Column("case_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("rule_text", sa.String(length=500), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disposed_by", sa.String(length=50), nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_disposal_record_case", "disposal_record", ["case_id"])
    op.create_index("ix_disposal_record_run_id", "disposal_record", ["run_id"])
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_by_id", sa.Integer(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.ForeignKeyConstraint(["set_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["lifted_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_legal_hold_instance", "legal_hold", ["instance_id", "lifted_at"])
    op.create_table(
        "release_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requester", sa.Text(), nullable=True),
        sa.Column("released", JSON, nullable=False),
        sa.Column("masked", JSON, nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_release_decision_instance", "release_decision", ["instance_id", "id"])
    _audit_references(keep=False)


def downgrade() -> None:
    bind = op.get_bind()
    orphans = bind.execute(
        sa.text(
            "SELECT count(*) FROM audit_event e WHERE "
            "(e.instance_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM process_instance p WHERE p.id = e.instance_id)) OR "
            "(e.human_task_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM human_task t WHERE t.id = e.human_task_id))"
        )
    ).scalar_one()
    if orphans:
        raise RuntimeError(
            f"{orphans} audit events belong to disposed cases; they cannot refer to them "
            "again, so this database cannot go back below revision 0011"
        )
    _audit_references(keep=True)
    op.drop_index("ix_release_decision_instance", table_name="release_decision")
    op.drop_table("release_decision")
    op.drop_index("ix_legal_hold_instance", table_name="legal_hold")
    op.drop_table("legal_hold")
    op.drop_index("ix_disposal_record_run_id", table_name="disposal_record")
    op.drop_index("ix_disposal_record_case", table_name="disposal_record")
    op.drop_table("disposal_record")


def _audit_references(keep: bool) -> None:
    """Add (``keep``) or drop audit_event's references to the case and its tasks."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        if keep:
            for target, column in CASE_REFERENCES.items():
                op.create_foreign_key(
                    f"audit_event_{column}_fkey", "audit_event", target, [column], ["id"]
                )
            return
        for fk in sa.inspect(bind).get_foreign_keys("audit_event"):
            if fk["referred_table"] in CASE_REFERENCES and fk["name"]:
                op.drop_constraint(fk["name"], "audit_event", type_="foreignkey")
        return
    # SQLite: rebuild the table from a description with (or without) the two
    # references. The rows are copied as they are; the rebuild drops the
    # triggers with the old table, so they are created again after it.
    with op.batch_alter_table("audit_event", recreate="always", copy_from=_audit_event_table(keep)):
        pass
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
        )


def _audit_event_table(with_case_references: bool) -> sa.Table:
    references = [sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"])]
    if with_case_references:
        references += [
            sa.ForeignKeyConstraint([column], [f"{target}.id"])
            for target, column in CASE_REFERENCES.items()
        ]
    table = sa.Table(
        "audit_event",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("human_task_id", sa.Integer(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        *references,
    )
    sa.Index("ix_audit_event_instance", table.c.instance_id, table.c.id)
    return table
