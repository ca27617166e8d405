"""organization policies; the audit trail becomes an append-only hash chain per organization

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 15:40:00

Existing audit records are chained in their order of creation. Their foreign keys go:
an audit record keeps the ids it names unchanged when a user, target or approval is
deleted (SET NULL would rewrite history, and the triggers refuse any rewrite).

SQLite drops a table's triggers when a batch operation recreates it: a later migration
that batch-alters ``tool_invocations`` must create the triggers again (``create_triggers``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from guardrails.audit_chain import GENESIS_HASH, record_hash

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEYS = {
    "org_id": "organizations",
    "user_id": "users",
    "target_id": "targets",
    "approval_id": "approvals",
}


def _without_foreign_keys() -> sa.Table:
    """tool_invocations as 0001 made it, minus its foreign keys (SQLite rebuilds from it)."""
    return sa.Table(
        "tool_invocations",
        sa.MetaData(),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=32), nullable=True),
        sa.Column("tool", sa.String(length=100), nullable=False),
        sa.Column("risk", sa.String(length=16), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("approval_id", sa.String(length=32), nullable=True),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.Index("ix_tool_invocations_org_created", "org_id", "created_at"),
    )

PG_TRIGGERS = """
CREATE OR REPLACE FUNCTION windflow_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % on tool_invocations is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER tool_invocations_append_only
    BEFORE UPDATE OR DELETE ON tool_invocations
    FOR EACH ROW EXECUTE FUNCTION windflow_audit_append_only();
CREATE TRIGGER tool_invocations_no_truncate
    BEFORE TRUNCATE ON tool_invocations
    FOR EACH STATEMENT EXECUTE FUNCTION windflow_audit_append_only();
"""

SQLITE_TRIGGERS = (
    """CREATE TRIGGER tool_invocations_no_update BEFORE UPDATE ON tool_invocations
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE is refused'); END""",
    """CREATE TRIGGER tool_invocations_no_delete BEFORE DELETE ON tool_invocations
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE is refused'); END""",
)


def create_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute(PG_TRIGGERS)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def drop_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tool_invocations_append_only ON tool_invocations")
        op.execute("DROP TRIGGER IF EXISTS tool_invocations_no_truncate ON tool_invocations")
        op.execute("DROP FUNCTION IF EXISTS windflow_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS tool_invocations_no_update")
        op.execute("DROP TRIGGER IF EXISTS tool_invocations_no_delete")


def _chain_existing_records() -> None:
    bind = op.get_bind()
    records = sa.table(
        "tool_invocations",
        *(sa.column(name) for name in ("id", "org_id", "seq", "prev_hash", "hash")),
        sa.column("user_id"),
        sa.column("target_id"),
        sa.column("tool"),
        sa.column("risk"),
        sa.column("arguments", sa.JSON()),
        sa.column("outcome"),
        sa.column("error"),
        sa.column("duration_ms"),
        sa.column("approval_id"),
        sa.column("conversation_id"),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    heads = sa.table("audit_heads", sa.column("org_id"), sa.column("seq"), sa.column("hash"))
    rows = bind.execute(
        sa.select(records).order_by(records.c.org_id, records.c.created_at, records.c.id)
    ).mappings()
    chains: dict[str, tuple[int, str]] = {}
    for row in list(rows):
        seq, previous = chains.get(row["org_id"], (0, GENESIS_HASH))
        fields = dict(row) | {"seq": seq + 1, "prev_hash": previous}
        digest = record_hash(fields)
        bind.execute(
            records.update()
            .where(records.c.id == row["id"])
            .values(seq=seq + 1, prev_hash=previous, hash=digest)
        )
        chains[row["org_id"]] = (seq + 1, digest)
    for org_id, (seq, digest) in chains.items():
        bind.execute(heads.insert().values(org_id=org_id, seq=seq, hash=digest))


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "audit_heads",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "org_policies",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id"),
    )
    if dialect == "postgresql":
        for column in FOREIGN_KEYS:
            op.drop_constraint(f"tool_invocations_{column}_fkey", "tool_invocations", "foreignkey")
        copy_from, recreate = None, "auto"
    else:
        copy_from, recreate = _without_foreign_keys(), "always"
    with op.batch_alter_table(
        "tool_invocations", copy_from=copy_from, recreate=recreate
    ) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_records()
    with op.batch_alter_table("tool_invocations") as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_tool_invocations_org_seq", ["org_id", "seq"])
    create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    drop_triggers(dialect)
    with op.batch_alter_table("tool_invocations") as batch_op:
        batch_op.drop_constraint("uq_tool_invocations_org_seq", type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
        for column, table in FOREIGN_KEYS.items():
            batch_op.create_foreign_key(
                f"tool_invocations_{column}_fkey",
                table,
                [column],
                ["id"],
                ondelete="CASCADE" if column == "org_id" else "SET NULL",
            )
    op.drop_table("org_policies")
    op.drop_table("audit_heads")
