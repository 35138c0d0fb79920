"""The alliance around the ledger: rule versions, merchants, members, billing, jobs.

Also gives each lot the value (fen per point) that backs it in the reserve.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:30:00
"""

import sqlalchemy as sa
from alembic import op

from jifen.store import tables as t

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEW_TABLES = (
    t.rule_versions,
    t.merchants,
    t.api_keys,
    t.members,
    t.consents,
    t.redemption_codes,
    t.idempotency,
    t.statements,
    t.job_runs,
    t.reminders,
)


def upgrade() -> None:
    with op.batch_alter_table("lots") as batch_op:
        batch_op.add_column(
            sa.Column("value_fen_per_point", sa.BigInteger(), nullable=False, server_default="0")
        )
    bind = op.get_bind()
    for table in NEW_TABLES:
        table.create(bind)
    op.create_index("ix_api_keys_merchant", "api_keys", ["merchant_id"])
    op.create_index("ix_lots_merchant_order", "lots", ["merchant_id", "order_ref"])


def downgrade() -> None:
    op.drop_index("ix_lots_merchant_order", "lots")
    op.drop_index("ix_api_keys_merchant", "api_keys")
    for table in reversed(NEW_TABLES):
        op.drop_table(table.name)
    with op.batch_alter_table("lots") as batch_op:
        batch_op.drop_column("value_fen_per_point")
