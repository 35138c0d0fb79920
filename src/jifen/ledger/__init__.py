"""The points ledger: double-entry journal, lots, holds, hash chain, verification (brief §5).

Callers import from here; underscore modules are private.
"""

from jifen.ledger import queries
from jifen.ledger._checkpoint import Checkpoint
from jifen.ledger._rederive import Finding, LaneTip, Report
from jifen.ledger.audit import verify
from jifen.ledger.chain import HASH_ALGORITHMS
from jifen.ledger.errors import CapExceeded, IdempotencyConflict, LedgerError
from jifen.ledger.lots import Lot, LotStatus, prorata_clawback
from jifen.ledger.model import (
    MAX_BATCH,
    MAX_LEGS,
    Asset,
    Cap,
    Collect,
    Earn,
    Expire,
    Leg,
    Operation,
    PayOut,
    Post,
    Receipt,
    Redeem,
    Refund,
    Release,
    ReturnSplit,
    Reverse,
    Settle,
    Shortfall,
    Void,
)
from jifen.ledger.service import BatchCommitted, Ledger, MemberBalance

__all__ = [
    "HASH_ALGORITHMS",
    "MAX_BATCH",
    "MAX_LEGS",
    "Asset",
    "BatchCommitted",
    "Cap",
    "CapExceeded",
    "Checkpoint",
    "Collect",
    "Earn",
    "Expire",
    "Finding",
    "IdempotencyConflict",
    "LaneTip",
    "Ledger",
    "LedgerError",
    "Leg",
    "Lot",
    "LotStatus",
    "MemberBalance",
    "Operation",
    "PayOut",
    "Post",
    "Receipt",
    "Redeem",
    "Refund",
    "Release",
    "Report",
    "ReturnSplit",
    "Reverse",
    "Settle",
    "Shortfall",
    "Void",
    "prorata_clawback",
    "queries",
    "verify",
]
