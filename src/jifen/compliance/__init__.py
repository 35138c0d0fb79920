"""Compliance: the linter that refuses schemes crossing a legal line (brief §9, compliance.md).

The scheme lab, which shows with exact arithmetic and charts what those schemes do, is its own
package, :mod:`jifen.lab`, and shares nothing with this one."""

from jifen.compliance.linter import (
    Finding,
    LintReport,
    Severity,
    lint_rules,
    lint_scheme,
    lint_text,
    max_rebate_bp,
    refused,
)
from jifen.compliance.scheme import SchemeDescription

__all__ = [
    "Finding",
    "LintReport",
    "SchemeDescription",
    "Severity",
    "lint_rules",
    "lint_scheme",
    "lint_text",
    "max_rebate_bp",
    "refused",
]
