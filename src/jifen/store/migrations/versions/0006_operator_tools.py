"""Operator tools and the auditor role: named API keys (one per store or till, rotation with a
grace period, auditor credentials in the same table), the audit record of member lookups, and
remote verification runs.

Frozen: this migration spells out what it creates and never reads live code.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("store_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    # every key has an id to be listed and revoked by; the keys made before are named by their hash
    op.execute("UPDATE api_keys SET key_id = 'k' || substr(key_hash, 1, 15) WHERE key_id IS NULL")
    op.create_index("ix_api_keys_key_id", "api_keys", ["key_id"], unique=True)
    op.create_table(
        "audit_records",
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("query", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
        sa.Index("ix_audit_records_at", "at", "record_id"),
    )
    op.create_table(
        "verification_runs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
        sa.Index("ix_verification_runs_started", "started_at", "run_id"),
    )


def downgrade() -> None:
    op.drop_table("verification_runs")
    op.drop_table("audit_records")
    op.drop_index("ix_api_keys_key_id", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch_op:
        for column in ("expires_at", "store_id", "name", "key_id"):
            batch_op.drop_column(column)
