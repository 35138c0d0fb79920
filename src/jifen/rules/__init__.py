"""Rule documents and their lifecycle: a pure functional core (brief §6, compliance PTS-4).

A rule set is a versioned, validated document (``RuleDocument``; YAML or JSON via
``load_document``; schema in docs/rules.schema.json). From it, pure functions decide what an order
earns and when those points release and expire, how many points an order may be paid with, what a
new version changes, whether it reduces the rights of points already issued, whether it may be
published or withdrawn, and which incoming times are supported. No database, no clock: times are
arguments. Callers import from here; underscore modules are private.
"""

from jifen.rules._diff import Change, diff_documents, render_diff
from jifen.rules._document import (
    Campaign,
    EarnRules,
    ExpiryRules,
    IssuePrice,
    PendingRules,
    PointValue,
    RedemptionRules,
    RefundRules,
    RuleDocument,
    load_document,
    rule_json_schema,
)
from jifen.rules._earn import EarnQuote, expires_at, quote_earn, release_at
from jifen.rules._lifecycle import (
    MAX_EFFECTIVE_HORIZON_DAYS,
    MAX_REASON_CHARS,
    MIN_NOTICE_DAYS,
    Version,
    VersionStatus,
    check_publication,
    latest_published,
    status_at,
    version_at,
    withdraw,
)
from jifen.rules._redeem import check_redemption, redemption_limit
from jifen.rules._referral import COMPLIANCE_REFUSED, MAX_DEPTH, REFUSED_TERMS, ReferralRules
from jifen.rules._rights import Reduction, rights_reductions
from jifen.rules._time import (
    FIRST_SUPPORTED_YEAR,
    LAST_SUPPORTED_YEAR,
    SUPPORTED_FROM,
    SUPPORTED_UNTIL,
    supported_utc,
)
from jifen.rules.errors import (
    AlreadyWithdrawn,
    InvalidRules,
    NoRulesInForce,
    NotWithdrawable,
    RedemptionRefused,
    RulesError,
)

__all__ = [
    "COMPLIANCE_REFUSED",
    "FIRST_SUPPORTED_YEAR",
    "LAST_SUPPORTED_YEAR",
    "MAX_DEPTH",
    "MAX_EFFECTIVE_HORIZON_DAYS",
    "MAX_REASON_CHARS",
    "MIN_NOTICE_DAYS",
    "REFUSED_TERMS",
    "SUPPORTED_FROM",
    "SUPPORTED_UNTIL",
    "AlreadyWithdrawn",
    "Campaign",
    "Change",
    "EarnQuote",
    "EarnRules",
    "ExpiryRules",
    "InvalidRules",
    "IssuePrice",
    "NoRulesInForce",
    "NotWithdrawable",
    "PendingRules",
    "PointValue",
    "RedemptionRefused",
    "RedemptionRules",
    "Reduction",
    "ReferralRules",
    "RefundRules",
    "RuleDocument",
    "RulesError",
    "Version",
    "VersionStatus",
    "check_publication",
    "check_redemption",
    "diff_documents",
    "expires_at",
    "latest_published",
    "load_document",
    "quote_earn",
    "redemption_limit",
    "release_at",
    "render_diff",
    "rights_reductions",
    "rule_json_schema",
    "status_at",
    "supported_utc",
    "version_at",
    "withdraw",
]
