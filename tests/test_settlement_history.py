"""``jifen.settlement.history``: the reserve and the liability as each closed day's close
recorded them, the public chart's figures (services called directly, on a simulated clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from jifen.alliance.members import enrol
from jifen.alliance.merchants import Merchant, MerchantStatus, create_merchant
from jifen.alliance.orders import record_order
from jifen.alliance.redemptions import new_code, redeem
from jifen.app import SimulatedClock, open_alliance
from jifen.jobs import run_jobs
from jifen.rules import RuleDocument
from jifen.settlement import reserve_status
from jifen.settlement.history import DayFigures, reserve_history

START = datetime(2026, 3, 1, 2, tzinfo=UTC)  # 10:00 Shanghai


def test_the_history_is_what_each_close_recorded(tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    ctx = open_alliance(str(tmp_path / "history.db"), secret="history-secret", clock=clock)
    assert reserve_history(ctx) == []  # nothing closed yet
    v1 = ctx.rulebook.draft(
        RuleDocument.model_validate({"pending": {"return_window_days": 2}}), START
    )
    ctx.rulebook.publish(v1.number, effective_at=START, reason="开业 launch", now=START,
                         points_outstanding=False)  # fmt: skip
    for merchant_id in ("cafe", "cinema"):
        create_merchant(
            ctx, Merchant(merchant_id, merchant_id, merchant_id, MerchantStatus.ACTIVE), START
        )
    alice = enrol(ctx, "13800138000", {"terms": True, "privacy": True}, START).member_id
    record_order(ctx, "cafe", order_ref="A-1", member_id=alice, amount_fen=50_000, paid_at=START)

    clock.set(datetime(2026, 3, 4, 2, tzinfo=UTC))
    closed = run_jobs(ctx)  # 1–3 March
    code, _ = new_code(ctx, alice, clock.now())
    redeem(ctx, "cinema", code=code, points=200, order_ref="T-1", order_amount_fen=8_000)
    clock.set(datetime(2026, 3, 6, 2, tzinfo=UTC))
    closed += run_jobs(ctx)  # 4–5 March: the redemption on the 4th

    history = reserve_history(ctx)
    assert history == [DayFigures(d.business_date, d.reserve_fen, d.liability_fen) for d in closed]
    assert [d.business_date for d in history] == [date(2026, 3, n) for n in range(1, 6)]
    assert [d.liability_fen for d in history] == [500, 500, 500, 300, 300]
    assert history[-1].reserve_fen == reserve_status(ctx).reserve_fen == 300
    assert {d.coverage for d in history} == {"100.00%"}
    assert [d.business_date for d in reserve_history(ctx, days=2)] == [
        date(2026, 3, 4),
        date(2026, 3, 5),
    ]
    assert DayFigures(date(2026, 3, 1), 0, 0).coverage == "—"  # nothing outstanding
    assert DayFigures(date(2026, 3, 1), 99, 100).coverage_bp == 9_900
