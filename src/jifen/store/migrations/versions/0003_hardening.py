"""Limits under lock, the business-day fence, withdrawn rule versions, store settings.

Frozen: this migration spells out what it creates and never reads live code.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "caps",
        sa.Column("cap_key", sa.String(length=160), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("cap_key"),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("chains") as batch_op:
        batch_op.add_column(sa.Column("open_from", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("rule_versions") as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdraw_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_versions") as batch_op:
        batch_op.drop_column("withdraw_reason")
        batch_op.drop_column("withdrawn_at")
    with op.batch_alter_table("chains") as batch_op:
        batch_op.drop_column("open_from")
    op.drop_table("settings")
    op.drop_table("caps")
