"""Referral rewards and their payouts (issue 14): who referred whom, who recruited which
merchant, each reward with the order it came from, the promoters who may be paid (payees: real
name, consent, the bank or wallet identity sealed), payout batches and their lines with the tax
withheld, and the two system accounts the money moves through.

Frozen: this migration spells out what it creates and never reads live code.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 17:30:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ACCOUNTS = ("system:referral_payable", "system:tax_withheld")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "referral_links",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("promoter_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("bound_at", TS, nullable=False),
        sa.Column("changed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_index("ix_referral_links_promoter", "referral_links", ["promoter_id"])
    op.create_table(
        "merchant_recruiters",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("promoter_id", sa.String(length=32), nullable=False),
        sa.Column("bound_at", TS, nullable=False),
        sa.Column("changed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_index("ix_merchant_recruiters_promoter", "merchant_recruiters", ["promoter_id"])
    op.create_table(
        "referral_rewards",
        sa.Column("reward_id", sa.String(length=160), nullable=False),
        sa.Column("promoter_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=128), nullable=False),
        sa.Column("earn_entry_id", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("share_bp", sa.Integer(), nullable=False),
        sa.Column("order_fen", sa.BigInteger(), nullable=False),
        sa.Column("basis_fen", sa.BigInteger(), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
        sa.Column("capped_fen", sa.BigInteger(), nullable=False),
        sa.Column("funded_by", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("paid_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("settled_at", TS, nullable=True),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("entry_id", sa.String(length=64), nullable=True),
        sa.Column("batch_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("reward_id"),
    )
    op.create_index("ix_referral_rewards_promoter", "referral_rewards", ["promoter_id", "state"])
    op.create_index("ix_referral_rewards_due", "referral_rewards", ["state", "due_at"])
    op.create_index("ix_referral_rewards_order", "referral_rewards", ["order_ref"])
    op.create_index("ix_referral_rewards_merchant", "referral_rewards", ["merchant_id"])
    op.create_table(
        "payees",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("real_name_sealed", sa.Text(), nullable=False),
        sa.Column("id_number_sealed", sa.Text(), nullable=False),
        sa.Column("account_kind", sa.String(length=16), nullable=False),
        sa.Column("account_sealed", sa.Text(), nullable=False),
        sa.Column("account_hint", sa.String(length=32), nullable=False),
        sa.Column("verified_at", TS, nullable=True),
        sa.Column("verification_ref", sa.String(length=128), nullable=True),
        sa.Column("consent_version", sa.String(length=32), nullable=True),
        sa.Column("consented_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_table(
        "referral_payout_batches",
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total_gross_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_tax_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_net_fen", sa.BigInteger(), nullable=False),
        sa.Column("provider_batch_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    op.create_index("ix_referral_payout_batches_period", "referral_payout_batches", ["period"])
    op.create_table(
        "referral_payout_lines",
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("out_detail_no", sa.String(length=32), nullable=False),
        sa.Column("tax_month", sa.String(length=7), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), nullable=False),
        sa.Column("taxable_fen", sa.BigInteger(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("quick_deduction_fen", sa.BigInteger(), nullable=False),
        sa.Column("tax_fen", sa.BigInteger(), nullable=False),
        sa.Column("net_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail_id", sa.String(length=64), nullable=True),
        sa.Column("entry_id", sa.String(length=64), nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "member_id"),
    )
    op.create_index(
        "ix_referral_payout_lines_member", "referral_payout_lines", ["member_id", "tax_month"]
    )
    op.create_index(
        "ix_referral_payout_lines_detail", "referral_payout_lines", ["out_detail_no"], unique=True
    )
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
            for a in ACCOUNTS
        ],
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM accounts WHERE account_id IN "
            "('system:referral_payable', 'system:tax_withheld')"
        )
    )
    op.drop_index("ix_referral_payout_lines_detail", table_name="referral_payout_lines")
    op.drop_index("ix_referral_payout_lines_member", table_name="referral_payout_lines")
    op.drop_table("referral_payout_lines")
    op.drop_index("ix_referral_payout_batches_period", table_name="referral_payout_batches")
    op.drop_table("referral_payout_batches")
    op.drop_table("payees")
    for name in ("merchant", "order", "due", "promoter"):
        op.drop_index(f"ix_referral_rewards_{name}", table_name="referral_rewards")
    op.drop_table("referral_rewards")
    op.drop_index("ix_merchant_recruiters_promoter", table_name="merchant_recruiters")
    op.drop_table("merchant_recruiters")
    op.drop_index("ix_referral_links_promoter", table_name="referral_links")
    op.drop_table("referral_links")
