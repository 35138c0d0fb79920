"""Referral rewards end to end (issue 14's acceptance): members referred two levels deep pay
through the sandbox provider, one order is refunded inside its return window, the window ends,
the daily jobs accrue what is owed, and a payout batch pays the promoters through the provider's
商家转账 with income tax withheld. The payees' nets, the withholding report, the ledger and the
provider's own balances agree to the fen; running the batch again pays nobody twice.

Figures by hand (rules: depth 2, direct 20 %, indirect 10 %; cumulative withholding, March, the
first month with income for both):

- Bai (referred by An) pays ¥25,000.00 at the cafe → An direct 20 % = ¥5,000.00.
- Chen (referred by Bai) pays ¥100,000.00 at the shop → Bai direct ¥20,000.00, An indirect
  ¥10,000.00.
- Chen pays ¥3,000.00 at the cafe and is refunded in full inside the window → both shares of it
  reversed (Bai ¥600.00, An ¥300.00 never owed).
- An: gross ¥15,000.00 → taxable 15,000 − 20 % − 5,000 = 7,000 → 3 % = ¥210.00, net ¥14,790.00.
- Bai: gross ¥20,000.00 → taxable 20,000 − 4,000 − 5,000 = 11,000 → 3 % = ¥330.00, net
  ¥19,670.00.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from funds_kit import Money, member, money
from jifen.funds import create_payment, request_refund
from jifen.jobs import run_jobs
from jifen.ledger import verify
from jifen.ledger.model import FEE_CASH, REFERRAL_PAYABLE, RESERVE, RESERVE_CASH, TAX_WITHHELD
from jifen.promoters import bind_by_code, list_rewards, promoter_code
from jifen.promoters.payouts import run_payout_batch
from jifen.promoters.statements import annual_summary, withholding_csv, withholding_rows
from jifen.referral import cumulative
from jifen.rules import ReferralRules, RuleDocument
from jifen.store import tables as t
from payouts_kit import balance, id_number, verified
from sandbox_kit import OPERATOR

RULES = RuleDocument().with_changes(
    referral=ReferralRules(depth=2, direct_bp=2000, indirect_bp=1000).model_dump()
)
AN = ("13900139001", "安小红", id_number("11010519900307123"), "oPromoter_An_00001")
BAI = ("13900139002", "白大伟", id_number("44030619851224561"), "oPromoter_Bai_0002")


@pytest.fixture
def m(db_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Money:
    with money(db_url, tmp_path, tmp_path_factory, RULES) as found:
        yield found  # type: ignore[misc]


def _pay(m: Money, merchant: str, order_ref: str, who: str, fen: int) -> str:
    created = create_payment(
        m.ctx, m.funds, merchant, order_ref=order_ref, member_id=who, amount_fen=fen,
        description="联盟消费",
    )  # fmt: skip
    m.pay(created.out_trade_no)
    return created.out_trade_no


def _rewards(m: Money) -> dict[tuple[str, str, str], tuple[str, int]]:
    found = list_rewards(m.ctx, limit=100).items
    return {(r.order_ref, r.kind, r.promoter_id): (r.state, r.fen) for r in found}


def test_two_levels_a_refund_in_the_window_a_batch_through_the_sandbox_and_no_double_pay(
    m: Money,
) -> None:
    ctx = m.ctx
    an, bai, chen = member(ctx, AN[0]), member(ctx, BAI[0]), member(ctx, "13900139003")
    assert bind_by_code(ctx, bai, promoter_code(ctx, an), "link").promoter_id == an
    assert bind_by_code(ctx, chen, promoter_code(ctx, bai), "scan").promoter_id == bai

    _pay(m, "cafe", "o-bai-1", bai, 2_500_000)
    _pay(m, "shop", "o-chen-1", chen, 10_000_000)
    refunded = _pay(m, "cafe", "o-chen-2", chen, 300_000)
    m.step(65)
    m.step(60)  # the splits are done
    m.kit.ok(m.kit.control.post("/sandbox/merchants/1900000101/top-up", json={"amount": 10_000}))
    request_refund(ctx, "cafe", refunded, refund_ref="r-chen-2", refund_fen=300_000)
    for _ in range(4):
        m.step(60)  # the refund goes through the provider

    # the day closes: every share is recorded, still pending (the windows have not ended)
    m.step(24 * 3600)
    run_jobs(ctx)
    assert {k: s for k, (s, _) in _rewards(m).items()} == {
        ("o-bai-1", "direct", an): "pending",
        ("o-chen-1", "direct", bai): "pending",
        ("o-chen-1", "indirect", an): "pending",
        ("o-chen-2", "direct", bai): "pending",
        ("o-chen-2", "indirect", an): "pending",
    }

    # the return windows (7 days) end: owed, or reversed for the refunded order
    m.step(7 * 24 * 3600)
    run_jobs(ctx)
    assert _rewards(m) == {
        ("o-bai-1", "direct", an): ("accrued", 500_000),
        ("o-chen-1", "direct", bai): ("accrued", 2_000_000),
        ("o-chen-1", "indirect", an): ("accrued", 1_000_000),
        ("o-chen-2", "direct", bai): ("reversed", 0),
        ("o-chen-2", "indirect", an): ("reversed", 0),
    }
    assert balance(ctx, REFERRAL_PAYABLE) == 3_500_000
    reserve_before = (balance(ctx, RESERVE), balance(ctx, RESERVE_CASH))

    # payees, verified; the operator's account at the provider holds revenue from elsewhere
    now = ctx.clock.now()
    verified(ctx, an, *AN[1:], now)
    verified(ctx, bai, *BAI[1:], now)
    m.kit.ok(
        m.kit.control.post(f"/sandbox/merchants/{OPERATOR}/top-up", json={"amount": 4_000_000})
    )
    fee_cash = balance(ctx, FEE_CASH)
    before = m.kit.balances()
    assert run_payout_batch(ctx, m.funds, now).state == "processing"
    m.kit.advance(61)
    assert run_payout_batch(ctx, m.funds, ctx.clock.now()).state == "succeeded"
    after = m.kit.balances()

    # the nets, by hand and by the tax module
    expected = {an: (1_500_000, 21_000), bai: (2_000_000, 33_000)}
    for gross, tax in expected.values():
        (month,) = cumulative([("2026-03", gross)])
        assert month.tax_fen == tax
    with ctx.engine.connect() as conn:
        lines = {
            r.member_id: (r.gross_fen, r.tax_fen, r.net_fen, r.state)
            for r in conn.execute(select(t.referral_payout_lines))
        }
    assert lines == {w: (g, x, g - x, "succeeded") for w, (g, x) in expected.items()}

    # the provider paid the nets to the persons, out of the operator's account
    nets = {w: g - x for w, (g, x) in expected.items()}
    for (_, _, _, openid), who in ((AN, an), (BAI, bai)):
        key = f"person:{openid}"
        assert after.get(key, 0) - before.get(key, 0) == nets[who]
    paid_out = before[f"{OPERATOR}:AVAILABLE"] - after[f"{OPERATOR}:AVAILABLE"]
    assert paid_out == sum(nets.values())

    # the ledger: nothing owed any more, the tax owed to the tax authority, the nets out of the
    # operator's cash, the reserve untouched, the books verify
    assert balance(ctx, REFERRAL_PAYABLE) == 0
    assert balance(ctx, TAX_WITHHELD) == 54_000
    assert balance(ctx, FEE_CASH) - fee_cash == sum(nets.values())
    assert (balance(ctx, RESERVE), balance(ctx, RESERVE_CASH)) == reserve_before
    assert verify(ctx.engine).ok

    # the withholding report and each payee's annual summary say the same
    rows = withholding_rows(ctx, 2026, 3)
    assert {r.member_id: (r.gross_fen, r.tax_fen, r.net_fen) for r in rows} == {
        w: (g, x, g - x) for w, (g, x) in expected.items()
    }
    assert {r.real_name for r in rows} == {AN[1], BAI[1]}
    report = withholding_csv(rows)
    assert "210.00" in report and "330.00" in report and "540.00" in report  # the total line
    for who, (gross, tax) in expected.items():
        summary = annual_summary(ctx, who, 2026)
        assert (summary.gross_fen, summary.tax_fen, summary.net_fen) == (gross, tax, gross - tax)

    # running the batch again pays nobody twice
    for _ in range(2):
        again = run_payout_batch(ctx, m.funds, ctx.clock.now())
        assert again.batch_id is None
    m.kit.advance(61)
    assert m.kit.balances() == after
    assert balance(ctx, TAX_WITHHELD) == 54_000 and balance(ctx, REFERRAL_PAYABLE) == 0
