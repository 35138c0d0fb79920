"""The tax withheld from one payout line, given what was paid to the payee before: pure.

Both methods withhold the figure owed on everything paid so far minus what was *actually*
withheld so far, so a line's tax nets the earlier lines as the law nets them:

- **per payment** (表二): the payee's lines in the same tax month are one payment (61号,
  "同一项目连续性收入，以一个月内取得的收入为一次"): the month's total is taxed once and the
  earlier lines' tax is deducted (``jifen.referral.per_payment_month``'s rule);
- **cumulative** (16号): the payee's cumulative-method lines this tax year, month by month, with
  the current line added to its month; the cumulative tax minus what those lines withheld.

Lines of the other method are not part of a method's figures: the method changes only at a
month's start (``jifen.promoters.config``), and the annual reconciliation (TAX-3) settles both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jifen.referral.tax import cumulative, per_payment

PER_PAYMENT = "per_payment"
CUMULATIVE = "cumulative"


@dataclass(frozen=True)
class Earlier:
    """A line paid before (succeeded), of the same payee and method, this tax year."""

    tax_month: str
    gross_fen: int
    tax_fen: int


@dataclass(frozen=True)
class LineTax:
    taxable_fen: int
    rate_bp: int
    quick_deduction_fen: int
    tax_fen: int


def line_tax(method: str, tax_month: str, gross_fen: int, earlier: Sequence[Earlier]) -> LineTax:
    """The withholding on a new line of ``gross_fen`` in ``tax_month`` after ``earlier``."""
    assert gross_fen > 0
    if method == PER_PAYMENT:
        month = [e for e in earlier if e.tax_month == tax_month]
        whole = per_payment(sum(e.gross_fen for e in month) + gross_fen)
        withheld = sum(e.tax_fen for e in month)
        return LineTax(
            whole.taxable_fen,
            whole.rate_bp,
            whole.quick_deduction_fen,
            max(0, whole.tax_fen - withheld),
        )
    assert method == CUMULATIVE, method
    year = [e for e in earlier if e.tax_month[:4] == tax_month[:4] and e.tax_month <= tax_month]
    by_month: dict[str, int] = {}
    for e in year:
        by_month[e.tax_month] = by_month.get(e.tax_month, 0) + e.gross_fen
    by_month[tax_month] = by_month.get(tax_month, 0) + gross_fen
    row = cumulative(sorted(by_month.items()))[-1]
    withheld = sum(e.tax_fen for e in year)
    return LineTax(
        row.cumulative_taxable_fen,
        row.rate_bp,
        row.quick_deduction_fen,
        max(0, row.cumulative_tax_fen - withheld),
    )
