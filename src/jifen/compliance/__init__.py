"""Compliance: the linter that refuses schemes crossing a legal line, and the scheme lab that
shows, with exact arithmetic and charts, what those schemes do (brief §9, compliance.md)."""

from jifen.compliance.errors import LintFailed
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
    "LintFailed",
    "LintReport",
    "SchemeDescription",
    "Severity",
    "lint_rules",
    "lint_scheme",
    "lint_text",
    "max_rebate_bp",
    "refused",
]
