"""The alliance around the ledger: rule versions, merchants, members, billing, jobs.

Also gives each lot the value (fen per point) that backs it in the reserve. Frozen: the tables are
spelled out as they were when this migration was written, never read from live code.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _tables() -> list[tuple[str, list[sa.schema.SchemaItem]]]:
    s, i, b, x = sa.String, sa.Integer, sa.BigInteger, sa.Text
    return [
        (
            "rule_versions",
            [
                sa.Column("number", i(), nullable=False, autoincrement=False),
                sa.Column("document", x(), nullable=False),
                sa.Column("created_at", TZ, nullable=False),
                sa.Column("published_at", TZ, nullable=True),
                sa.Column("effective_at", TZ, nullable=True),
                sa.Column("reason", x(), nullable=False),
                sa.Column("diff_text", x(), nullable=False),
                sa.PrimaryKeyConstraint("number"),
            ],
        ),
        (
            "merchants",
            [
                sa.Column("merchant_id", s(32), nullable=False),
                sa.Column("name", s(200), nullable=False),
                sa.Column("category", s(32), nullable=False),
                sa.Column("status", s(16), nullable=False),
                sa.Column("kyc", x(), nullable=False),
                sa.Column("stores", x(), nullable=False),
                sa.Column("created_at", TZ, nullable=False),
                sa.Column("updated_at", TZ, nullable=False),
                sa.PrimaryKeyConstraint("merchant_id"),
            ],
        ),
        (
            "api_keys",
            [
                sa.Column("key_hash", s(64), nullable=False),
                sa.Column("role", s(16), nullable=False),
                sa.Column("merchant_id", s(32), nullable=True),
                sa.Column("created_at", TZ, nullable=False),
                sa.Column("revoked_at", TZ, nullable=True),
                sa.PrimaryKeyConstraint("key_hash"),
            ],
        ),
        (
            "members",
            [
                sa.Column("member_id", s(32), nullable=False),
                sa.Column("phone_lookup", s(64), nullable=False),
                sa.Column("phone_sealed", x(), nullable=False),
                sa.Column("created_at", TZ, nullable=False),
                sa.PrimaryKeyConstraint("member_id"),
                sa.UniqueConstraint("phone_lookup"),
            ],
        ),
        (
            "consents",
            [
                sa.Column("member_id", s(32), nullable=False),
                sa.Column("purpose", s(32), nullable=False),
                sa.Column("at", TZ, nullable=False),
                sa.Column("granted", i(), nullable=False),
                sa.Column("policy_version", s(32), nullable=False),
                sa.PrimaryKeyConstraint("member_id", "purpose", "at"),
            ],
        ),
        (
            "redemption_codes",
            [
                sa.Column("code_hash", s(64), nullable=False),
                sa.Column("member_id", s(32), nullable=False),
                sa.Column("created_at", TZ, nullable=False),
                sa.Column("expires_at", TZ, nullable=False),
                sa.PrimaryKeyConstraint("code_hash"),
            ],
        ),
        (
            "idempotency",
            [
                sa.Column("scope", s(64), nullable=False),
                sa.Column("idem_key", s(128), nullable=False),
                sa.Column("request_hash", s(64), nullable=False),
                sa.Column("status", i(), nullable=False),
                sa.Column("response", x(), nullable=False),
                sa.Column("created_at", TZ, nullable=False),
                sa.PrimaryKeyConstraint("scope", "idem_key"),
            ],
        ),
        (
            "statements",
            [
                sa.Column("merchant_id", s(32), nullable=False),
                sa.Column("business_date", s(10), nullable=False),
                *(
                    sa.Column(name, b(), nullable=False)
                    for name in (
                        "points_issued",
                        "charges_fen",
                        "points_accepted",
                        "reimbursements_fen",
                        "credits_fen",
                        "adjustments_fen",
                        "net_fen",
                    )
                ),
                sa.Column("entry_id", s(32), nullable=True),
                sa.Column("created_at", TZ, nullable=False),
                sa.PrimaryKeyConstraint("merchant_id", "business_date"),
            ],
        ),
        (
            "job_runs",
            [
                sa.Column("job", s(32), nullable=False),
                sa.Column("business_date", s(10), nullable=False),
                sa.Column("finished_at", TZ, nullable=False),
                sa.Column("result", x(), nullable=False),
                sa.PrimaryKeyConstraint("job", "business_date"),
            ],
        ),
        (
            "reminders",
            [
                sa.Column("member_id", s(64), nullable=False),
                sa.Column("business_date", s(10), nullable=False),
                sa.Column("points", b(), nullable=False),
                sa.Column("first_expiry", TZ, nullable=False),
                sa.Column("detail", x(), nullable=False),
                sa.PrimaryKeyConstraint("member_id", "business_date"),
            ],
        ),
    ]


def upgrade() -> None:
    with op.batch_alter_table("lots") as batch_op:
        batch_op.add_column(
            sa.Column("value_fen_per_point", sa.BigInteger(), nullable=False, server_default="0")
        )
    for name, columns in _tables():
        op.create_table(name, *columns)
    op.create_index("ix_api_keys_merchant", "api_keys", ["merchant_id"])
    op.create_index("ix_lots_merchant_order", "lots", ["merchant_id", "order_ref"])


def downgrade() -> None:
    op.drop_index("ix_lots_merchant_order", "lots")
    op.drop_index("ix_api_keys_merchant", "api_keys")
    for name, _ in reversed(_tables()):
        op.drop_table(name)
    with op.batch_alter_table("lots") as batch_op:
        batch_op.drop_column("value_fen_per_point")
