"""The tables of the alliance around the ledger (SQLAlchemy Core), and the one ``metadata`` and
time type every table uses. The ledger's own tables are ``jifen.ledger._tables``: only the
ledger reads or writes them. Alembic migrations in ``migrations/`` create both (frozen: they spell
out their tables, so editing these never rewrites what an old migration creates).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on PostgreSQL (timestamptz) and SQLite (naive text) alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

# -- the alliance around the ledger (issue 3): rules, merchants, members, billing, jobs ------------

rule_versions = Table(
    "rule_versions",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("document", Text, nullable=False),  # canonical JSON of the rule document
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),  # None: a draft
    Column("effective_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=False),
    Column("diff_text", Text, nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),  # an announced version called back
    Column("withdraw_reason", Text, nullable=True),
)

merchants = Table(
    "merchants",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # active | suspended | closed
    Column("kyc", Text, nullable=False),  # JSON: legal name, licence number, contact
    Column("stores", Text, nullable=False),  # JSON list of {store_id, name, city}
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),  # sha256 of the key; the key is shown once
    Column("role", String(16), nullable=False),  # operator | merchant
    Column("merchant_id", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

members = Table(
    "members",
    metadata,
    Column("member_id", String(32), primary_key=True),
    Column("phone_lookup", String(64), nullable=False, unique=True),  # keyed hash (HMAC-SHA256)
    Column("phone_sealed", Text, nullable=False),  # AES-256-GCM, see alliance/_secrets.py
    Column("created_at", UTCDateTime, nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("member_id", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("granted", Integer, nullable=False),  # 1 granted, 0 withdrawn
    Column("policy_version", String(32), nullable=False),
    PrimaryKeyConstraint("member_id", "purpose", "at"),
)

redemption_codes = Table(
    "redemption_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("member_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    # what a store knows about itself: its clock (real or simulated, and the simulated time) and
    # a check value that recognises its secret
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("scope", String(64), nullable=False),  # operator, merchant:{id} or member:{id}
    Column("idem_key", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "idem_key"),
)

statements = Table(
    "statements",
    metadata,
    Column("merchant_id", String(32), nullable=False),
    Column("business_date", String(10), nullable=False),  # Asia/Shanghai, YYYY-MM-DD
    Column("points_issued", BigInteger, nullable=False),
    Column("charges_fen", BigInteger, nullable=False),
    Column("points_accepted", BigInteger, nullable=False),
    Column("reimbursements_fen", BigInteger, nullable=False),
    Column("credits_fen", BigInteger, nullable=False),
    Column("adjustments_fen", BigInteger, nullable=False),
    Column("net_fen", BigInteger, nullable=False),
    Column("collected_fen", BigInteger, nullable=False, server_default="0"),
    Column("returned_fen", BigInteger, nullable=False, server_default="0"),
    Column("entry_id", String(32), nullable=True),  # the settlement entry (None: nothing to move)
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("merchant_id", "business_date"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("job", String(32), nullable=False),
    Column("business_date", String(10), nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("result", Text, nullable=False),
    PrimaryKeyConstraint("job", "business_date"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("business_date", String(10), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("first_expiry", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),  # JSON list of [lot_id, points, expires_at]
    PrimaryKeyConstraint("member_id", "business_date"),
)
