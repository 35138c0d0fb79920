"""Partner billing, daily settlement, the reserve and the liability report (brief §4)."""

from jifen.settlement.service import liabilities, reserve_status, settle_day, statements
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
    "LiabilityReport",
    "Movement",
    "ReserveStatus",
    "Statement",
    "breakage_rate_bp",
    "coverage_text",
    "liabilities",
    "reserve_status",
    "settle_day",
    "statement",
    "statements",
]
