"""Individual income tax withheld from 劳务报酬 (referral commissions), in integer fen.

Two methods (BRIEF §8, compliance.md TAX-1 and TAX-2); the operator's configuration picks one:

- **Per payment** (预扣率表二, 国家税务总局公告2018年第61号): taxable = income − ¥800 if the income
  is at most ¥4,000, else income × 80 %; tax = taxable × 20 % (taxable ≤ ¥20,000), × 30 % −
  ¥2,000 (≤ ¥50,000), × 40 % − ¥7,000 above. Income for the same item within one month is one
  payment (61号: "属于同一项目连续性收入的，以一个月内取得的收入为一次"): ``per_payment_month``
  taxes the month's running total and withholds each time what the total owes beyond what was
  already withheld that month.
- **Cumulative** (累计预扣法 for internet platforms from 2025-10-01, 国家税务总局公告2025年第16号
  §一(一)): 本期应预扣预繳税额 = (累计收入 − 累计费用 − 累计减除费用) × 预扣率 − 速算扣除数 −
  累计已预扣预缴税额, where 累计费用 = 20 % of 累计收入 and 累计减除费用 = ¥5,000 × "纳税人当年截至
  本月在本互联网平台企业连续取得劳务报酬的月份数", over the 预扣率表一 brackets.

Why fractions: 80 % and 20 % of a sum in fen need not be whole fen (¥4,000.01 × 80 % =
320,000.8 fen). Every figure is computed exactly and rounded once, at the end, by ``ROUNDING``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

ROUNDING = "half-up to the fen"
"""The one rounding: an exact amount is rounded to the nearest fen, halves away from zero
(0.5 fen → 1 fen), as the amounts a withholding return reports (yuan to two decimals)."""

YUAN = 100
PER_PAYMENT_BRACKETS: tuple[tuple[int | None, int, int], ...] = (
    (20_000 * YUAN, 2000, 0),
    (50_000 * YUAN, 3000, 2_000 * YUAN),
    (None, 4000, 7_000 * YUAN),
)
"""预扣率表二: (taxable up to, fen or None for no limit; rate in basis points; quick deduction,
fen)."""
CUMULATIVE_BRACKETS: tuple[tuple[int | None, int, int], ...] = (
    (36_000 * YUAN, 300, 0),
    (144_000 * YUAN, 1000, 2_520 * YUAN),
    (300_000 * YUAN, 2000, 16_920 * YUAN),
    (420_000 * YUAN, 2500, 31_920 * YUAN),
    (660_000 * YUAN, 3000, 52_920 * YUAN),
    (960_000 * YUAN, 3500, 85_920 * YUAN),
    (None, 4500, 181_920 * YUAN),
)
"""预扣率表一 (cumulative): the same layout."""
FLAT_EXPENSE = 800 * YUAN
FLAT_EXPENSE_UP_TO = 4_000 * YUAN
MONTHLY_DEDUCTION = 5_000 * YUAN


def round_fen(amount: Fraction) -> int:
    """``ROUNDING``: nearest fen, halves away from zero."""
    whole, rest = divmod(abs(amount), 1)
    fen = int(whole) + (1 if rest >= Fraction(1, 2) else 0)
    return fen if amount >= 0 else -fen


def _bracket(taxable: Fraction, brackets: Sequence[tuple[int | None, int, int]]) -> tuple[int, int]:
    for limit, rate_bp, quick in brackets:
        if limit is None or taxable <= limit:
            return rate_bp, quick
    raise AssertionError("the last bracket has no limit")


def _tax(
    taxable: Fraction, brackets: Sequence[tuple[int | None, int, int]]
) -> tuple[int, int, Fraction]:
    rate_bp, quick = _bracket(taxable, brackets)
    return rate_bp, quick, max(Fraction(0), taxable * rate_bp / 10_000 - quick)


@dataclass(frozen=True)
class Withholding:
    """One payment's withholding under 表二; ``tax_fen`` is what is withheld from it."""

    income_fen: int
    taxable_fen: int
    rate_bp: int
    quick_deduction_fen: int
    tax_fen: int


def _per_payment_exact(income_fen: int) -> tuple[Fraction, int, int, Fraction]:
    if income_fen < 0:
        raise ValueError("an income is never negative")
    if income_fen <= FLAT_EXPENSE_UP_TO:
        taxable = Fraction(max(0, income_fen - FLAT_EXPENSE))
    else:
        taxable = Fraction(income_fen) * 4 / 5
    rate_bp, quick, tax = _tax(taxable, PER_PAYMENT_BRACKETS)
    return taxable, rate_bp, quick, tax


def per_payment(income_fen: int) -> Withholding:
    """The withholding on one payment (表二)."""
    taxable, rate_bp, quick, tax = _per_payment_exact(income_fen)
    return Withholding(income_fen, round_fen(taxable), rate_bp, quick, round_fen(tax))


def per_payment_month(payments_fen: Iterable[int]) -> list[Withholding]:
    """The payments of one payee for one item within one month, in order: each withholds what
    the month's total so far owes beyond what the earlier payments withheld, so the month is
    taxed as one payment (and a later payment never gives back tax: the total only grows)."""
    out: list[Withholding] = []
    total = withheld = 0
    for income in payments_fen:
        total += income
        whole = per_payment(total)
        tax = max(0, whole.tax_fen - withheld)
        withheld += tax
        out.append(
            Withholding(income, whole.taxable_fen, whole.rate_bp, whole.quick_deduction_fen, tax)
        )
    return out


class RestartPolicy(StrEnum):
    """What a month without income from this platform restarts, within the tax year.

    ``DEDUCTION_MONTHS`` (the default): only the count of months for 累计减除费用 starts again at
    one — 16号 §一(一) counts the months "当年截至本月在本互联网平台企业连续取得劳务报酬", i.e.
    the consecutive run up to this month — while 累计收入, 累计费用 and 累计已预扣预缴税额 run over
    the whole tax year, as the 累计预扣法 of 2018年第61号 defines them ("当年截至本月")."""

    DEDUCTION_MONTHS = "deduction-months"


@dataclass(frozen=True)
class CumulativeMonth:
    """One month with income under the cumulative method (yuan figures in fen)."""

    month: str  # YYYY-MM
    income_fen: int
    cumulative_income_fen: int
    cumulative_expenses_fen: int
    consecutive_months: int
    cumulative_deduction_fen: int
    cumulative_taxable_fen: int
    rate_bp: int
    quick_deduction_fen: int
    cumulative_tax_fen: int
    withheld_before_fen: int
    tax_fen: int  # withheld this month (never negative: 暂不退税, settled in the annual return)


def _months_apart(earlier: str, later: str) -> int:
    y1, m1 = (int(p) for p in earlier.split("-"))
    y2, m2 = (int(p) for p in later.split("-"))
    return (y2 - y1) * 12 + (m2 - m1)


def cumulative(
    incomes: Sequence[tuple[str, int]],
    policy: RestartPolicy = RestartPolicy.DEDUCTION_MONTHS,
) -> list[CumulativeMonth]:
    """The months of one tax year with income from this platform, ``(YYYY-MM, fen)`` in
    order, one row each. A month absent from ``incomes`` had no income (the run of consecutive
    months breaks there)."""
    assert policy is RestartPolicy.DEDUCTION_MONTHS
    rows: list[CumulativeMonth] = []
    total = withheld = run = 0
    previous: str | None = None
    for month, income in incomes:
        if income <= 0:
            raise ValueError(f"{month}: a month listed has income; leave a month without out")
        if previous is not None and (
            previous[:4] != month[:4] or _months_apart(previous, month) < 1
        ):
            raise ValueError(f"{month}: months of one tax year, in order")
        run = run + 1 if previous is not None and _months_apart(previous, month) == 1 else 1
        total += income
        expenses = Fraction(total) / 5
        deduction = MONTHLY_DEDUCTION * run
        taxable = max(Fraction(0), total - expenses - deduction)
        rate_bp, quick, exact = _tax(taxable, CUMULATIVE_BRACKETS)
        tax_total = round_fen(exact)
        tax = max(0, tax_total - withheld)
        rows.append(
            CumulativeMonth(
                month,
                income,
                total,
                round_fen(expenses),
                run,
                deduction,
                round_fen(taxable),
                rate_bp,
                quick,
                tax_total,
                withheld,
                tax,
            )
        )
        withheld += tax
        previous = month
    return rows
