"""Proof of liabilities (issue 15): signed checkpoints (each liability snapshot and every lane's
tip at one instant, as the canonical document that was signed) and, for the latest of them, the
Merkle sum tree members fetch their proofs from (each member's leaf, and the tree's levels in
chunks of 40-byte records).

Frozen: this migration spells out what it creates and never reads live code.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("taken_at", TS, nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=True),
        sa.Column("idem_key", sa.String(length=128), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("business_date"),
        sa.UniqueConstraint("idem_key"),
    )
    op.create_table(
        "checkpoint_members",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "member_id"),
    )
    op.create_table(
        "checkpoint_nodes",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("records", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "level", "chunk"),
    )


def downgrade() -> None:
    op.drop_table("checkpoint_nodes")
    op.drop_table("checkpoint_members")
    op.drop_table("checkpoints")
