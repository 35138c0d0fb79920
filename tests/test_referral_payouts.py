"""Payout batches (issue 14): through the sandbox provider's 商家转账, the nets, the ledger, the
withholding report and the persons' balances agree to the fen, and a re-run pays nobody twice;
with a stand-in provider, a month's second payment under 表二 is netted, the cumulative method
runs across months, a failed detail releases its rewards, and an outage leaves the batch open."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from funds_kit import alliance
from jifen.app import Context
from jifen.funds import funds_from_credentials
from jifen.ledger.model import FEE_CASH, REFERRAL_PAYABLE, TAX_WITHHELD
from jifen.payments import NotOffered
from jifen.promoters import config, statements
from jifen.promoters.payouts import run_payout_batch
from jifen.referral import cumulative, per_payment
from jifen.store import tables as t
from payouts_kit import Stand, accrue, balance, id_number, stand_funds, verified
from sandbox_kit import OPERATOR, T0, Kit, sandbox

WANG = ("mwang", "王小明", id_number("11010519900307123"), "oPayee_Wang_000001")
LI = ("mli", "李四", id_number("44030619851224561"), "oPayee_Li_00000002")
APRIL = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    found, _ = alliance(db_url)
    try:
        yield found
    finally:
        found.engine.dispose()


def _lines(ctx: Context) -> list[dict[str, object]]:
    c = t.referral_payout_lines.c
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(t.referral_payout_lines).order_by(c.tax_month, c.batch_id))
        return [dict(r._mapping) for r in rows]


def _batch_ids(ctx: Context) -> dict[str, str | None]:
    with ctx.engine.connect() as conn:
        return dict(
            conn.execute(
                select(t.referral_rewards.c.reward_id, t.referral_rewards.c.batch_id)
            ).all()
        )  # type: ignore[arg-type]


def _pay(ctx: Context, kit: Kit, funds: object, now: datetime) -> None:
    """Send the batch, let the sandbox finish it, and take its answer."""
    assert run_payout_batch(ctx, funds, now).state == "processing"  # type: ignore[arg-type]
    kit.advance(61)
    assert run_payout_batch(ctx, funds, now).state == "succeeded"  # type: ignore[arg-type]


def test_a_batch_through_the_sandbox_pays_the_nets_books_the_tax_and_never_pays_twice(
    ctx: Context, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Cumulative (the default), March, the first month: Wang is owed ¥20,000.00 → taxable
    20,000 − 20 % − 5,000 = 11,000 → 3 % = ¥330.00, net ¥19,670.00 (≥ ¥2,000: the name goes,
    encrypted); Li ¥500.00 → taxable below zero → no tax, net ¥500.00."""
    for who in (WANG, LI):
        verified(ctx, *who, T0)
    accrue(ctx, "mwang", "o-1", 1_500_000, T0)
    accrue(ctx, "mwang", "o-2", 500_000, T0)
    accrue(ctx, "mli", "o-3", 50_000, T0)
    with sandbox(tmp_path, tmp_path_factory) as kit:
        funds = funds_from_credentials(tmp_path / "sandbox" / "credentials.json", kit.base_url)
        kit.ok(
            kit.control.post(f"/sandbox/merchants/{OPERATOR}/top-up", json={"amount": 3_000_000})
        )
        before = kit.balances()
        fee_cash = balance(ctx, FEE_CASH)
        _pay(ctx, kit, funds, T0 + timedelta(minutes=5))
        after = kit.balances()
        lines = {x["member_id"]: x for x in _lines(ctx)}
        assert {m: (x["gross_fen"], x["tax_fen"], x["net_fen"]) for m, x in lines.items()} == {
            "mwang": (2_000_000, 33_000, 1_967_000),
            "mli": (50_000, 0, 50_000),
        }
        assert after[f"person:{WANG[3]}"] == 1_967_000 and after[f"person:{LI[3]}"] == 50_000
        paid = before[f"{OPERATOR}:AVAILABLE"] - after[f"{OPERATOR}:AVAILABLE"]
        assert paid == 2_017_000
        sent = kit.ok(
            kit.wechat(OPERATOR).get(
                f"/v3/transfer/batches/out-batch-no/{lines['mwang']['batch_id']}/details/out-detail-no/{lines['mwang']['out_detail_no']}"
            )
        )
        assert sent["detail_status"] == "SUCCESS"
        assert balance(ctx, REFERRAL_PAYABLE) == 0
        assert balance(ctx, TAX_WITHHELD) == 33_000
        assert balance(ctx, FEE_CASH) - fee_cash == paid
        assert all(b == lines["mwang"]["batch_id"] for b in _batch_ids(ctx).values())

        report = list(
            csv.reader(
                io.StringIO(statements.withholding_csv(statements.withholding_rows(ctx, 2026, 3)))
            )
        )
        assert [r[2:4] for r in report[1:-1]] == [[LI[1], LI[2]], [WANG[1], WANG[2]]]
        assert report[-1][-2:] == ["330.00", "20170.00"]
        assert report[-1][-2] == statements.yuan(balance(ctx, TAX_WITHHELD))
        assert report[-1][-1] == statements.yuan(paid)

        assert run_payout_batch(ctx, funds, T0 + timedelta(hours=1)).batch_id is None
        kit.advance(61)
        assert kit.balances() == after  # the re-run paid nobody
        assert len(_lines(ctx)) == 2

        creds = json.loads((tmp_path / "sandbox" / "credentials.json").read_text("utf-8"))
        for m in creds["merchants"]:
            if m["mchid"] == OPERATOR:
                m["private_key_file"] = None  # no API identity of the operator's own account
        keyless = tmp_path / "keyless.json"
        keyless.write_text(json.dumps(creds), encoding="utf-8")
        provider = funds_from_credentials(keyless, kit.base_url).provider
        with pytest.raises(NotOffered):
            provider.query_person_transfers(str(lines["mwang"]["batch_id"]))


def test_a_second_payment_in_one_month_under_per_payment_is_taxed_as_one(ctx: Context) -> None:
    """表二, April: ¥3,000.00 → (3,000 − 800) × 20 % = ¥440.00; then ¥2,000.00 more: the month's
    ¥5,000.00 → 5,000 × 80 % × 20 % = ¥800.00, less the ¥440.00 withheld = ¥360.00."""
    config.set_method(ctx, "per-payment", T0)
    verified(ctx, *WANG, T0)
    funds = stand_funds(Stand())
    accrue(ctx, "mwang", "o-1", 300_000, APRIL)
    run_payout_batch(ctx, funds, APRIL)
    run_payout_batch(ctx, funds, APRIL)
    accrue(ctx, "mwang", "o-2", 200_000, APRIL + timedelta(days=10))
    run_payout_batch(ctx, funds, APRIL + timedelta(days=10))
    run_payout_batch(ctx, funds, APRIL + timedelta(days=10))
    lines = _lines(ctx)
    assert [(x["method"], x["gross_fen"], x["tax_fen"]) for x in lines] == [
        ("per_payment", 300_000, 44_000),
        ("per_payment", 200_000, 36_000),
    ]
    assert sum(int(str(x["tax_fen"])) for x in lines) == per_payment(500_000).tax_fen == 80_000
    assert [x["batch_id"] for x in lines] == ["RP202604N0001", "RP202604N0002"]
    month = statements.monthly_statements(ctx, "mwang", 2026)
    assert [(m.month, m.gross_fen, m.tax_fen, m.net_fen) for m in month] == [
        ("2026-04", 500_000, 80_000, 420_000)
    ]
    assert [line.orders for line in month[0].lines] == [("o-1",), ("o-2",)]


def test_the_cumulative_method_runs_across_months(ctx: Context) -> None:
    """March ¥10,000.00: (10,000 − 2,000 − 5,000) × 3 % = ¥90.00; April ¥10,000.00 more:
    (20,000 − 4,000 − 10,000) × 3 % = ¥180.00 cumulative, less ¥90.00 = ¥90.00. The annual
    summary: income ¥20,000.00, 收入额 ¥16,000.00, tax ¥180.00."""
    verified(ctx, *WANG, T0)
    funds = stand_funds(Stand())
    accrue(ctx, "mwang", "o-1", 1_000_000, T0)
    run_payout_batch(ctx, funds, T0)
    run_payout_batch(ctx, funds, T0)
    accrue(ctx, "mwang", "o-2", 1_000_000, APRIL)
    run_payout_batch(ctx, funds, APRIL)
    run_payout_batch(ctx, funds, APRIL)
    taxes = [x["tax_fen"] for x in _lines(ctx)]
    by_hand = cumulative([("2026-03", 1_000_000), ("2026-04", 1_000_000)])
    assert taxes == [r.tax_fen for r in by_hand] == [9_000, 9_000]
    year = statements.annual_summary(ctx, "mwang", 2026)
    assert (year.gross_fen, year.income_amount_fen, year.tax_fen, year.net_fen) == (
        2_000_000, 1_600_000, 18_000, 1_982_000,
    )  # fmt: skip
    assert (year.reconcile_from, year.reconcile_until) == ("2027-03-01", "2027-06-30")
    assert balance(ctx, TAX_WITHHELD) == 18_000


def test_a_failed_detail_releases_its_rewards_and_withholds_nothing(ctx: Context) -> None:
    for who in (WANG, LI):
        verified(ctx, *who, T0)
    accrue(ctx, "mwang", "o-1", 1_000_000, T0)
    accrue(ctx, "mli", "o-2", 50_000, T0)
    stand = Stand(failing={WANG[3]})
    funds = stand_funds(stand)
    run_payout_batch(ctx, funds, T0)
    done = run_payout_batch(ctx, funds, T0)
    assert (done.state, done.lines_paid, done.lines_failed) == ("succeeded", 1, 1)
    assert _batch_ids(ctx) == {"o-1:direct": None, "o-2:direct": "RP202603N0001"}
    assert balance(ctx, TAX_WITHHELD) == 0 and balance(ctx, REFERRAL_PAYABLE) == 1_000_000
    assert statements.owed(ctx, "mwang") == statements.Owed(1_000_000, False)
    stand.failing.clear()
    run_payout_batch(ctx, funds, T0 + timedelta(days=1))
    run_payout_batch(ctx, funds, T0 + timedelta(days=1))
    wang = [x for x in _lines(ctx) if x["member_id"] == "mwang"]
    assert [(x["batch_id"], x["state"], x["tax_fen"]) for x in wang] == [
        ("RP202603N0001", "failed", 9_000),
        ("RP202603N0002", "succeeded", 9_000),  # the failed line's tax was not counted
    ]
    assert balance(ctx, TAX_WITHHELD) == 9_000 and balance(ctx, REFERRAL_PAYABLE) == 0


def test_an_unreachable_provider_leaves_the_batch_to_be_sent_again_under_its_number(
    ctx: Context,
) -> None:
    verified(ctx, *WANG, T0)
    accrue(ctx, "mwang", "o-1", 100_000, T0)
    stand = Stand(down=True)
    funds = stand_funds(stand)
    first = run_payout_batch(ctx, funds, T0)
    assert (first.batch_id, first.state) == ("RP202603N0001", "due")
    accrue(ctx, "mwang", "o-2", 100_000, T0)  # owed meanwhile: waits for the next batch
    stand.down = False
    assert run_payout_batch(ctx, funds, T0).batch_id == "RP202603N0001"
    assert run_payout_batch(ctx, funds, T0).state == "succeeded"
    assert [b.out_batch_no for b in stand.sent] == ["RP202603N0001"]
    assert [d.fen for d in stand.sent[0].details] == [100_000]
    with ctx.engine.connect() as conn:
        batch = conn.execute(select(t.referral_payout_batches)).one()
    assert batch.attempts == 2 and batch.total_gross_fen == 100_000
    assert _batch_ids(ctx)["o-2:direct"] is None


def test_passes_racing_to_make_the_batch_follow_one_batch_and_pay_once(ctx: Context) -> None:
    """Four passes at once with money owed and no batch open: one batch is made, no pass fails,
    each answers that batch (or nothing, once that batch is already finished), and the payee is
    paid once."""
    from concurrent.futures import ThreadPoolExecutor

    verified(ctx, *WANG, T0)
    accrue(ctx, "mwang", "o-race", 100_000, T0)
    stand = Stand()
    funds = stand_funds(stand)
    now = T0 + timedelta(minutes=1)
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: run_payout_batch(ctx, funds, now), range(4)))
    assert len({r.batch_id for r in runs} - {None}) == 1
    with ctx.engine.connect() as conn:
        assert conn.execute(select(t.referral_payout_batches.c.batch_id)).scalars().all() == [
            next(r.batch_id for r in runs if r.batch_id)
        ]
    run_payout_batch(ctx, funds, now)
    assert [x["member_id"] for x in _lines(ctx)] == ["mwang"]
    assert [len(b.details) for b in stand.sent] == [1]
