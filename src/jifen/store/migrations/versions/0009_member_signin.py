"""The member console: one-time sign-in codes sent by SMS (kept only as a keyed MAC), the
privacy notice each member acknowledged, and the mark of an erased member.

Frozen: this migration spells out what it creates and never reads live code.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_codes",
        sa.Column("phone_key", sa.String(length=64), nullable=False),
        sa.Column("code_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=True),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("code_mac", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("phone_key", "code_id"),
    )
    op.create_index("ix_signin_codes_phone", "signin_codes", ["phone_key", "created_at"])
    op.create_index("ix_signin_codes_address", "signin_codes", ["address_key", "created_at"])
    op.create_index("ix_signin_codes_created", "signin_codes", ["created_at"])
    op.create_table(
        "privacy_acks",
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "policy_version"),
    )
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("erased_at")
    op.drop_table("privacy_acks")
    op.drop_index("ix_signin_codes_created", table_name="signin_codes")
    op.drop_index("ix_signin_codes_address", table_name="signin_codes")
    op.drop_index("ix_signin_codes_phone", table_name="signin_codes")
    op.drop_table("signin_codes")
