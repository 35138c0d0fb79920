"""The points ledger: journal (blocks, entries, legs), accounts, balances, lots, chain lanes.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 12:35:32.276118
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


LANES = 16
"""Chain lanes: concurrent writers append to different lanes (see jifen.ledger.chain)."""


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "balances",
        sa.Column("account_id", sa.String(length=160), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "bucket"),
    )
    op.create_table(
        "blocks",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash_alg", sa.String(length=16), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "height"),
    )
    op.create_table(
        "chains",
        sa.Column("chain_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("tip_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id"),
    )
    op.create_table(
        "entries",
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("idem_key", sa.String(length=128), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("reverses", sa.String(length=32), nullable=True),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("entry_id"),
        sa.UniqueConstraint("idem_key"),
        sa.UniqueConstraint("reverses"),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index("ix_entries_block", ["chain_id", "height", "seq"], unique=False)

    op.create_table(
        "ledger_meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "lots",
        sa.Column("lot_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("redeemed", sa.BigInteger(), nullable=False),
        sa.Column("expired", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("refund_clawed", sa.BigInteger(), nullable=False),
        sa.Column("recovered", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lot_id"),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("ix_lots_expiry", ["status", "expires_at"], unique=False)
        batch_op.create_index("ix_lots_member", ["member_id"], unique=False)
        batch_op.create_index("ix_lots_release", ["status", "release_at"], unique=False)

    op.create_table(
        "legs",
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("leg_no", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=160), nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.entry_id"],
        ),
        sa.PrimaryKeyConstraint("entry_id", "leg_no"),
    )
    with op.batch_alter_table("legs", schema=None) as batch_op:
        batch_op.create_index("ix_legs_account", ["account_id"], unique=False)
        batch_op.create_index("ix_legs_lot", ["lot_id"], unique=False)
    _seed()


GENESIS = "0" * 64
"""The tip of an empty lane (as in jifen.ledger.chain when this migration was written)."""
SYSTEM_ACCOUNTS = (
    ("system:issuance", "issuance", "POINTS"),
    ("system:expired", "expired", "POINTS"),
    ("system:clawback", "clawback", "POINTS"),
    ("system:reserve", "system_cny", "CNY"),
    ("system:revenue", "system_cny", "CNY"),
    ("system:clearing", "system_cny", "CNY"),
)
"""The system accounts (frozen here: a migration never reads live code)."""


def _seed() -> None:
    """System accounts and the genesis tip of every lane."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    accounts = sa.table(
        "accounts",
        sa.column("account_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("owner", sa.String),
        sa.column("asset", sa.String),
        sa.column("opened_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        accounts,
        [
            {"account_id": a, "kind": k, "owner": None, "asset": s, "opened_at": now}
            for a, k, s in SYSTEM_ACCOUNTS
        ],
    )
    chains = sa.table(
        "chains",
        sa.column("chain_id", sa.Integer),
        sa.column("height", sa.BigInteger),
        sa.column("tip_hash", sa.String),
    )
    op.bulk_insert(
        chains, [{"chain_id": i, "height": 0, "tip_hash": GENESIS} for i in range(LANES)]
    )


def downgrade() -> None:
    with op.batch_alter_table("legs", schema=None) as batch_op:
        batch_op.drop_index("ix_legs_lot")
        batch_op.drop_index("ix_legs_account")

    op.drop_table("legs")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_release")
        batch_op.drop_index("ix_lots_member")
        batch_op.drop_index("ix_lots_expiry")

    op.drop_table("lots")
    op.drop_table("ledger_meta")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_block")

    op.drop_table("entries")
    op.drop_table("chains")
    op.drop_table("blocks")
    op.drop_table("balances")
    op.drop_table("accounts")
