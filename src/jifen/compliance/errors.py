"""Compliance errors, with stable codes."""

from __future__ import annotations

from jifen.errors import JifenError


class LintFailed(JifenError):
    """Publishing refused: the compliance linter reports an error or a block."""

    code = "rules.lint_failed"
    status = 422
