"""Money at the licensed provider: merchants' provider accounts, split receivers and plans,
payments, split instructions and their lines, refunds and the split returns before them, payouts,
the provider's notifications, reconciliation runs and large-value alerts.

Frozen: this migration spells out what it creates and never reads live code.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = (
    "large_value_alerts",
    "reconciliations",
    "provider_events",
    "payouts",
    "split_returns",
    "refunds",
    "split_lines",
    "split_orders",
    "payments",
    "split_plans",
    "split_receivers",
    "provider_accounts",
)


def upgrade() -> None:
    op.create_table(
        "provider_accounts",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False, unique=True),
        sa.Column("max_ratio_bp", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_table(
        "split_receivers",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=24), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "name"),
    )
    op.create_table(
        "split_plans",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "version"),
    )
    op.create_table(
        "payments",
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=127), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("transaction_id", sa.String(length=32), nullable=True, unique=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pay_url", sa.Text(), nullable=True),
        sa.Column("order_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("out_trade_no"),
        sa.UniqueConstraint("merchant_id", "order_ref", name="uq_payments_order"),
    )
    op.create_table(
        "split_orders",
        sa.Column("out_order_no", sa.String(length=64), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("condition", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unfreeze", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("out_order_no"),
    )
    op.create_index("ix_split_orders_trade", "split_orders", ["out_trade_no"])
    op.create_index("ix_split_orders_state", "split_orders", ["state", "due_at"])
    op.create_table(
        "split_lines",
        sa.Column("out_order_no", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("fail_reason", sa.String(length=64), nullable=True),
        sa.Column("detail_id", sa.String(length=64), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("out_order_no", "receiver"),
    )
    op.create_table(
        "refunds",
        sa.Column("out_refund_no", sa.String(length=64), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("refund_ref", sa.String(length=64), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("customer_fen", sa.BigInteger(), nullable=False),
        sa.Column("credited_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("refund_id", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("out_refund_no"),
        sa.UniqueConstraint("out_trade_no", "refund_ref", name="uq_refunds_ref"),
    )
    op.create_index("ix_refunds_state", "refunds", ["state"])
    op.create_table(
        "split_returns",
        sa.Column("out_return_no", sa.String(length=64), nullable=False),
        sa.Column("out_refund_no", sa.String(length=64), nullable=False),
        sa.Column("out_order_no", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("return_id", sa.String(length=64), nullable=True),
        sa.Column("fail_reason", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("out_return_no"),
    )
    op.create_index("ix_split_returns_refund", "split_returns", ["out_refund_no"])
    op.create_table(
        "payouts",
        sa.Column("out_payout_no", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("out_payout_no"),
        sa.UniqueConstraint("merchant_id", "business_date", name="uq_payouts_day"),
    )
    op.create_table(
        "provider_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=48), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "reconciliations",
        sa.Column("bill_date", sa.String(length=10), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("report_csv", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("bill_date", "run"),
    )
    op.create_table(
        "large_value_alerts",
        sa.Column("subject", sa.String(length=48), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("line", sa.String(length=32), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("threshold_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", "business_date", "line"),
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
