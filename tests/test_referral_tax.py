"""Individual income tax withheld from 劳务报酬 (issue 14, jifen.referral.tax): the worked examples
and boundaries of compliance.md §2.5 for the per-payment method, a month of two payments for one
item taxed as one, and a year of the cumulative method computed by hand."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from jifen.cli import app
from jifen.referral.tax import (
    RestartPolicy,
    cumulative,
    per_payment,
    per_payment_month,
    round_fen,
)

Y = 100  # fen per yuan


@pytest.mark.parametrize(
    ("income", "taxable", "tax"),
    [
        (2_000 * Y, 1_200 * Y, 240 * Y),  # 2,000 − 800 = 1,200; × 20 % = 240
        (8_000 * Y, 6_400 * Y, 1_280 * Y),  # 8,000 × 80 % = 6,400; × 20 % = 1,280
        (30_000 * Y, 24_000 * Y, 5_200 * Y),  # 24,000 × 30 % − 2,000 = 5,200
        (60_000 * Y, 48_000 * Y, 12_400 * Y),  # 48,000 × 30 % − 2,000 = 12,400
        (100_000 * Y, 80_000 * Y, 25_000 * Y),  # 80,000 × 40 % − 7,000 = 25,000
        (800 * Y, 0, 0),  # 800 − 800 = 0
        (4_000 * Y, 3_200 * Y, 640 * Y),  # 4,000 − 800 = 3,200; × 20 % = 640
        (400_001, 320_001, 64_000),  # 4,000.01 × 80 % = 3,200.008 → 3,200.01; tax 640.0016 → 640.00
        (25_000 * Y, 20_000 * Y, 4_000 * Y),  # the 20 %/30 % seam: 20,000 × 20 % = 4,000
        (62_500 * Y, 50_000 * Y, 13_000 * Y),  # the 30 %/40 % seam: 50,000 × 30 % − 2,000
        (0, 0, 0),
        (500 * Y, 0, 0),  # under 800: nothing taxable, never negative
    ],
)
def test_per_payment_worked_examples_and_boundaries(income: int, taxable: int, tax: int) -> None:
    w = per_payment(income)
    assert (w.taxable_fen, w.tax_fen) == (taxable, tax)


def test_the_seams_are_continuous() -> None:
    """Either side of each seam the formulas agree: 20,000 × 20 % = 20,000 × 30 % − 2,000 and
    50,000 × 30 % − 2,000 = 50,000 × 40 % − 7,000, so one fen more costs at most a fen or so."""
    for income in (25_000 * Y, 62_500 * Y, 4_000 * Y):
        below, above = per_payment(income).tax_fen, per_payment(income + 1).tax_fen
        assert 0 <= above - below <= 1, income


def test_two_payments_for_the_same_item_in_a_month_are_taxed_as_one() -> None:
    """3,000 then 2,000 for the same item in one month. Alone, 3,000 → (3,000 − 800) × 20 % = 440.
    Together, 5,000 → 5,000 × 80 % × 20 % = 800, so the second withholds 800 − 440 = 360 —
    not the 240 it would alone ((2,000 − 800) × 20 %): 440 + 360 = 800 = the tax on one 5,000."""
    first, second = per_payment_month([3_000 * Y, 2_000 * Y])
    assert first.tax_fen == 440 * Y and second.tax_fen == 360 * Y
    assert first.tax_fen + second.tax_fen == per_payment(5_000 * Y).tax_fen
    assert per_payment(2_000 * Y).tax_fen == 240 * Y  # what taxing them apart would have taken


@given(st.lists(st.integers(min_value=0, max_value=10_000_000), min_size=1, max_size=6))
def test_a_month_withholds_in_all_what_one_payment_of_its_total_would(payments: list[int]) -> None:
    rows = per_payment_month(payments)
    assert sum(r.tax_fen for r in rows) == per_payment(sum(payments)).tax_fen
    assert all(r.tax_fen >= 0 for r in rows)


def test_rounding_is_half_up_to_the_fen() -> None:
    assert round_fen(Fraction(1, 2)) == 1 and round_fen(Fraction(3, 2)) == 2
    assert round_fen(Fraction(149, 100)) == 1 and round_fen(Fraction(-1, 2)) == -1


def test_a_year_of_the_cumulative_method_by_hand() -> None:
    """One payee, one platform, 2026 (yuan; expenses 20 % of cumulative income; deduction 5,000 ×
    the consecutive months up to this one; 预扣率表一):

    - Jan 10,000: cum 10,000 − 2,000 − 5,000×1 = 3,000 × 3 % = 90; withhold 90.
    - Feb 10,000: cum 20,000 − 4,000 − 5,000×2 = 6,000 × 3 % = 180; withhold 180 − 90 = 90.
    - Mar: no payment — the run of consecutive months breaks.
    - Apr 10,000: cum 30,000 − 6,000 − 5,000×1 (the run restarts) = 19,000 × 3 % = 570;
      withhold 570 − 180 = 390.
    - May 50,000: cum 80,000 − 16,000 − 5,000×2 = 54,000: over 36,000, so the bracket changes to
      10 % − 2,520: 5,400 − 2,520 = 2,880; withhold 2,880 − 570 = 2,310.
    - Jun 60,000: cum 140,000 − 28,000 − 15,000 = 97,000 × 10 % − 2,520 = 7,180;
      withhold 7,180 − 2,880 = 4,300.
    - Jul 100,000: cum 240,000 − 48,000 − 20,000 = 172,000: over 144,000, 20 % − 16,920:
      34,400 − 16,920 = 17,480; withhold 17,480 − 7,180 = 10,300.
    - Aug 1,000: cum 241,000 − 48,200 − 25,000 = 167,800 × 20 % − 16,920 = 16,640, less than the
      17,480 already withheld: withhold 0 (暂不退税: the annual return settles it).
    - Sep 4,000: cum 245,000 − 49,000 − 30,000 = 166,000 → 16,280; still below: withhold 0.
    """
    rows = cumulative(
        [
            ("2026-01", 10_000 * Y), ("2026-02", 10_000 * Y), ("2026-04", 10_000 * Y),
            ("2026-05", 50_000 * Y), ("2026-06", 60_000 * Y), ("2026-07", 100_000 * Y),
            ("2026-08", 1_000 * Y), ("2026-09", 4_000 * Y),
        ]
    )  # fmt: skip
    got = [(r.month, r.consecutive_months, r.cumulative_taxable_fen // Y, r.rate_bp,
            r.cumulative_tax_fen // Y, r.tax_fen // Y) for r in rows]  # fmt: skip
    assert got == [
        ("2026-01", 1, 3_000, 300, 90, 90),
        ("2026-02", 2, 6_000, 300, 180, 90),
        ("2026-04", 1, 19_000, 300, 570, 390),
        ("2026-05", 2, 54_000, 1000, 2_880, 2_310),
        ("2026-06", 3, 97_000, 1000, 7_180, 4_300),
        ("2026-07", 4, 172_000, 2000, 17_480, 10_300),
        ("2026-08", 5, 167_800, 2000, 16_640, 0),
        ("2026-09", 6, 166_000, 2000, 16_280, 0),
    ]
    assert sum(r.tax_fen for r in rows) == 17_480 * Y  # what was withheld = the highest total
    assert rows[0].cumulative_expenses_fen == 2_000 * Y
    assert rows[2].withheld_before_fen == 180 * Y


def test_the_briefs_example_and_a_month_below_the_deduction() -> None:
    """10,000 in January → (8,000 − 5,000) × 3 % = 90 (BRIEF §8). 5,000 in a month: 4,000 − 5,000
    is below zero, so nothing is taxable and nothing is withheld."""
    assert cumulative([("2026-01", 10_000 * Y)])[0].tax_fen == 90 * Y
    row = cumulative([("2026-03", 5_000 * Y)])[0]
    assert row.cumulative_taxable_fen == 0 and row.tax_fen == 0


def test_the_cumulative_method_takes_one_tax_year_in_order() -> None:
    with pytest.raises(ValueError, match="one tax year"):
        cumulative([("2026-12", 100 * Y), ("2027-01", 100 * Y)])
    with pytest.raises(ValueError, match="in order"):
        cumulative([("2026-03", 100 * Y), ("2026-02", 100 * Y)])
    with pytest.raises(ValueError, match="has income"):
        cumulative([("2026-03", 0)])
    assert RestartPolicy.DEDUCTION_MONTHS.value == "deduction-months"


def _preview(*args: str) -> Result:
    return CliRunner().invoke(app, ["tax", "preview", *args])


def test_jifen_tax_preview_prints_the_figures_an_operator_checks_by_hand() -> None:
    """The issue's two commands: 30,000.00 per payment → 24,000.00 taxable at 30 % less 2,000.00 =
    5,200.00; January and February 10,000.00 each, cumulative → 90.00 then 90.00 (180 − 90)."""
    r = _preview("--method", "per-payment", "--income", "30000.00", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {
        "method": "per-payment", "income": "30000.00", "taxable_income": "24000.00",
        "rate": "30%", "quick_deduction": "2000.00", "tax": "5200.00",
        "rounding": "half-up to the fen",
    }  # fmt: skip
    r = _preview(
        "--method", "cumulative", "--incomes", "2026-01=10000.00,2026-02=10000.00", "--json"
    )
    assert r.exit_code == 0, r.output
    months = json.loads(r.output)["months"]
    assert [(m["month"], m["cumulative_income"], m["cumulative_deduction"],
             m["cumulative_taxable_income"], m["cumulative_tax"], m["tax"]) for m in months] == [
        ("2026-01", "10000.00", "5000.00", "3000.00", "90.00", "90.00"),
        ("2026-02", "20000.00", "10000.00", "6000.00", "180.00", "90.00"),
    ]  # fmt: skip
    table = _preview("--method", "per-payment", "--income", "4000.01")
    assert table.exit_code == 0 and "640.00" in table.output and "3200.01" in table.output


@pytest.mark.parametrize(
    "args",
    [
        ("--method", "per-payment", "--income", "12.345"),
        ("--method", "per-payment", "--income", "-5"),
        ("--method", "per-payment"),
        ("--method", "cumulative", "--incomes", "January=100"),
        ("--method", "cumulative", "--incomes", "2026-03=1,2026-02=1"),
        ("--method", "monthly", "--income", "1"),
    ],
)
def test_jifen_tax_preview_refuses_bad_input_plainly(args: tuple[str, ...]) -> None:
    r = _preview(*args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
