"""Partner billing, daily settlement, the reserve and the liability report (brief §4)."""

from jifen.settlement.audit import check_statements, verify_books
from jifen.settlement.service import (
    CLOSING_JOB,
    liabilities,
    reserve_status,
    settle_day,
    statements,
)
from jifen.settlement.statement import (
    LiabilityReport,
    Movement,
    ReserveStatus,
    Statement,
    breakage_rate_bp,
    coverage_text,
    statement,
)

__all__ = [
    "CLOSING_JOB",
    "LiabilityReport",
    "Movement",
    "ReserveStatus",
    "Statement",
    "breakage_rate_bp",
    "check_statements",
    "coverage_text",
    "liabilities",
    "reserve_status",
    "settle_day",
    "statement",
    "statements",
    "verify_books",
]
