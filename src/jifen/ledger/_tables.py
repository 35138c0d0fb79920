"""The ledger's tables (SQLAlchemy Core). Only ``jifen.ledger`` touches them: every other package
reads through ``jifen.ledger.queries`` and writes through ``Ledger`` (an import-linter contract in
the test suite holds it).

Append-only: ``blocks``, ``entries`` and ``legs`` are only ever inserted. ``balances``, ``lots``,
``caps`` and ``chains`` are caches and tips that ``jifen verify`` re-derives from the journal.
No column is a global sequence: entry and lot ids derive from idempotency keys (see chain.py).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from jifen.store.tables import UTCDateTime, metadata

meta = Table(
    "ledger_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

chains = Table(
    "chains",
    metadata,
    Column("chain_id", Integer, primary_key=True, autoincrement=False),
    Column("height", BigInteger, nullable=False),
    Column("tip_hash", String(64), nullable=False),
    # the day fence: entries written on this lane are booked no earlier than this instant (the
    # start of the first business day not yet closed); None: no day closed yet
    Column("open_from", UTCDateTime, nullable=True),
)

blocks = Table(
    "blocks",
    metadata,
    Column("chain_id", Integer, nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash_alg", String(16), nullable=False),
    Column("committed_at", UTCDateTime, nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("block_hash", String(64), nullable=False),
    PrimaryKeyConstraint("chain_id", "height"),
)

entries = Table(
    "entries",
    metadata,
    Column("entry_id", String(32), primary_key=True),
    Column("idem_key", String(128), nullable=False, unique=True),
    Column("body_hash", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),
    Column("reverses", String(32), nullable=True, unique=True),
    Column("chain_id", Integer, nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Index("ix_entries_block", "chain_id", "height", "seq"),
)

legs = Table(
    "legs",
    metadata,
    Column("entry_id", String(32), ForeignKey("entries.entry_id"), nullable=False),
    Column("leg_no", Integer, nullable=False),
    Column("account_id", String(160), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("lot_id", String(32), nullable=True),
    PrimaryKeyConstraint("entry_id", "leg_no"),
    Index("ix_legs_account", "account_id"),
    Index("ix_legs_lot", "lot_id"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(160), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("owner", String(100), nullable=True),
    Column("asset", String(8), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
)

balances = Table(
    "balances",
    metadata,
    Column("account_id", String(160), nullable=False),
    Column("bucket", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "bucket"),
)

lots = Table(
    "lots",
    metadata,
    Column("lot_id", String(32), primary_key=True),
    Column("member_id", String(64), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("order_ref", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("paid_at", UTCDateTime, nullable=False),
    Column("release_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("available", BigInteger, nullable=False),
    Column("redeemed", BigInteger, nullable=False),
    Column("expired", BigInteger, nullable=False),
    Column("refunded_fen", BigInteger, nullable=False),
    Column("refund_clawed", BigInteger, nullable=False),
    Column("recovered", BigInteger, nullable=False),
    Column("value_fen_per_point", BigInteger, nullable=False, server_default="0"),
    Index("ix_lots_member", "member_id"),
    Index("ix_lots_merchant_order", "merchant_id", "order_ref"),
    Index("ix_lots_release", "status", "release_at"),
    Index("ix_lots_expiry", "status", "expires_at"),
)

caps = Table(
    "caps",
    metadata,
    # a limit the ledger enforces under lock: the points counted against one key (a member's
    # business day of earning, one order's redemptions); re-derived by ``jifen verify``
    Column("cap_key", String(160), primary_key=True),
    Column("used", BigInteger, nullable=False),
)
