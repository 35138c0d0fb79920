"""Money at the provider: the reserve's and the fee's cash accounts, and what a statement says was
collected by split and returned.

Frozen: this migration spells out what it creates and never reads live code.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CASH_ACCOUNTS = ("system:reserve_cash", "system:fee_cash")


def upgrade() -> None:
    accounts = sa.table(
        "accounts",
        sa.column("account_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("owner", sa.String),
        sa.column("asset", sa.String),
        sa.column("opened_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        accounts,
        [
            {"account_id": a, "kind": "system_cny", "owner": None, "asset": "CNY", "opened_at": now}
            for a in CASH_ACCOUNTS
        ],
    )
    with op.batch_alter_table("statements") as batch_op:
        for name in ("collected_fen", "returned_fen"):
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    with op.batch_alter_table("statements") as batch_op:
        batch_op.drop_column("returned_fen")
        batch_op.drop_column("collected_fen")
    op.execute(
        sa.text(
            "DELETE FROM accounts WHERE account_id IN ('system:reserve_cash', 'system:fee_cash')"
        )
    )
