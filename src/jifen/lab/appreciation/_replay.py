"""Replay the pitch's worked example (schemes.md §A): one ¥A order after another, each by a new
member, no sells but forced exits; the price after each order and the first forced exit.

Arithmetic: :class:`decimal.Decimal` with 50 significant digits, ties to even
(:data:`REPLAY_CONTEXT`). Fractions were the first choice and are exact up to the first forced
exit (about 0.05 s for 1,000 orders), but each forced-exit payout multiplies the sizes of the
pool's and the circulation's denominators together, so a few dozen orders after the first exit a
single order takes seconds and it only gets worse. Fifty digits is more than 40 digits beyond the
4 decimals reported, over at most :data:`MAX_REPLAY_ORDERS` orders.
"""

from __future__ import annotations

import heapq
from dataclasses import asdict
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

from jifen.lab._result import Chart, LabResult
from jifen.lab.appreciation._core import (
    BP,
    AppreciationParams,
    Book,
    Holding,
    opening_book,
    place_order,
    reaches_exit,
    sell,
)
from jifen.lab.errors import InvalidParameter

__all__ = ["MAX_REPLAY_ORDERS", "REPLAY_CONTEXT", "replay"]

REPLAY_CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN)
MAX_REPLAY_ORDERS = 200_000
"""A bound on a replay's length (200,000 orders take a few seconds)."""
SUMMARY_ROWS = 10
"""How many of the first orders the summary repeats (the table holds them all)."""


def _places(value: Decimal, places: int) -> str:
    """A fixed-point string with ``places`` decimals, ties to even."""
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):f}"


def replay(
    params: AppreciationParams | None = None, orders: int = 1000, order_amount: int = 1000
) -> LabResult:
    """Run ``orders`` orders of ``order_amount`` yuan, member n placing order n, and sweep forced
    exits after each (lowest trigger price first). Members never re-invest: the pitch's example
    has none. Table rows hold every order; the summary names the first forced exit.
    """
    params = params or AppreciationParams()
    if not 0 <= orders <= MAX_REPLAY_ORDERS:
        raise InvalidParameter(f"orders must be 0..{MAX_REPLAY_ORDERS}")
    if not 0 < order_amount <= 100_000_000:
        raise InvalidParameter("order_amount must be 1..100,000,000 yuan")
    with localcontext(REPLAY_CONTEXT):
        return _replay(params, orders, order_amount)


def _replay(params: AppreciationParams, orders: int, order_amount: int) -> LabResult:
    amount = Decimal(order_amount)
    book: Book[Decimal] = opening_book(params, Decimal(0))
    initial_price = book.price_yuan
    holdings: dict[int, Holding[Decimal]] = {}
    triggers: list[tuple[Decimal, int]] = []  # (k × spend ÷ points, member): a min-heap
    rows: list[dict[str, Any]] = []
    exits: list[dict[str, Any]] = []
    paid_out = Decimal(0)
    for order in range(1, orders + 1):
        book, holding = place_order(book, Holding(Decimal(0), Decimal(0)), amount, params)
        holdings[order] = holding
        heapq.heappush(
            triggers, (holding.spent_yuan * params.exit_multiple_bp / BP / holding.points, order)
        )
        exited: list[int] = []
        # Each member holds one position and never buys again, so no heap entry goes stale; the
        # exact test (not the rounded key) decides, so a tie in the 50th digit cannot misfire.
        while triggers and reaches_exit(book, holdings[triggers[0][1]], params):
            _, member = heapq.heappop(triggers)
            position = holdings.pop(member)
            price = book.price_yuan
            book, _, payout = sell(book, position, position.points, params)
            paid_out += payout
            exited.append(member)
            exits.append(
                {
                    "order": order,
                    "member": member,
                    "price_yuan": _places(price, 6),
                    "payout_yuan": _places(payout, 4),
                    "payout_over_spend": _places(payout / amount, 4),
                }
            )
        rows.append(
            {
                "order": order,
                "price_yuan": _places(book.price_yuan, 6),
                "pool_yuan": _places(book.pool_yuan, 4),
                "circulation": _places(book.circulation, 4),
                "forced_exits": len(exited),
                "exited_members": ", ".join(map(str, exited)),
            }
        )
    return _result(params, orders, amount, book, initial_price, rows, exits, paid_out)


def _result(
    params: AppreciationParams,
    orders: int,
    amount: Decimal,
    book: Book[Decimal],
    initial_price: Decimal,
    rows: list[dict[str, Any]],
    exits: list[dict[str, Any]],
    paid_out: Decimal,
) -> LabResult:
    spent = amount * orders
    inflow = spent * params.pool_bp / BP
    on_paper = book.circulation * book.price_yuan
    first = exits[0] if exits else None
    # An exited member's own order put pool_bp of their spend into the pool; whatever they were
    # paid beyond that came from other members' orders.
    own = amount * params.pool_bp / BP * len(exits)
    from_others = max(paid_out - own, Decimal(0))
    k = _places(Decimal(params.exit_multiple_bp) / BP, 2)
    haircut_k = _places(Decimal(params.exit_multiple_bp * params.sell_payout_bp) / BP / BP, 2)
    summary: dict[str, Any] = {
        "orders": orders,
        "order_amount_yuan": _places(amount, 2),
        "exit_multiple": k,
        "arithmetic": "decimal, 50 significant digits, ties to even",
        "zero_circulation_price": "stays at the last price",
        "first_rows": rows[:SUMMARY_ROWS],
        "final_price_yuan": _places(book.price_yuan, 6),
        "price_multiple": _places(book.price_yuan / initial_price, 4),
        "first_forced_exit": first,
        "forced_exits": len(exits),
        "totals": {
            "spent_yuan": _places(spent, 2),
            "pool_inflow_yuan": _places(inflow, 2),
            "paid_out_yuan": _places(paid_out, 4),
            "paid_out_from_other_members_orders_yuan": _places(from_others, 4),
            "platform_yuan": _places(spent * params.platform_bp / BP, 2),
            "referral_yuan": _places(spent * params.referral_bp / BP, 2),
            "merchant_retained_yuan": _places(spent * (BP - params.commission_bp) / BP, 2),
            "pool_end_yuan": _places(book.pool_yuan, 4),
            "points_in_circulation": _places(book.circulation, 4),
            "value_on_paper_yuan": _places(on_paper, 4),
            "cashable_at_haircut_yuan": _places(on_paper * params.sell_payout_bp / BP, 4),
        },
    }
    explanation_zh, explanation_en = _explain(params, summary, k, haircut_k)
    return LabResult(
        scheme="appreciation",
        mode="replay",
        parameters={**asdict(params), "orders": orders, "order_amount_yuan": int(amount)},
        summary=summary,
        charts=_charts(rows),
        explanation_zh=explanation_zh,
        explanation_en=explanation_en,
        table=tuple(rows),
    )


def _explain(
    params: AppreciationParams, summary: dict[str, Any], k: str, haircut_k: str
) -> tuple[str, str]:
    """Say plainly, with this replay's numbers, where what an exiting member is paid comes from."""
    orders, first = summary["orders"], summary["first_forced_exit"]
    if first is None:
        zh_exit = f"{orders} 笔订单内无人达到 {k} 倍出局。"
        en_exit = f"Nobody reached the {k}× exit within {orders} orders."
    else:
        zh_exit = (
            f"第 {first['order']} 笔订单后，第 {first['member']} 号会员首次被强制出局，"
            f"按 {first['price_yuan']} 元的价格卖出，得到 {first['payout_yuan']} 元"
            f"（消费的 {first['payout_over_spend']} 倍）。"
        )
        en_exit = (
            f"The first forced exit happens after order {first['order']}: member "
            f"{first['member']} is sold out at ¥{first['price_yuan']} and paid "
            f"¥{first['payout_yuan']} ({first['payout_over_spend']}× their spend)."
        )
    explanation_zh = (
        f"每笔订单只有 {params.pool_bp / 100:g}% 进入盈利池，积分价格 = 池子 ÷ 流通积分，"
        "所以价格只能靠新订单（以及卖出时留下的 20%）上涨。"
        f"{k} 倍出局时到手的只有消费的 {haircut_k} 倍（卖出打八折）。"
        f"{zh_exit}"
        f"共支付 {summary['totals']['paid_out_yuan']} 元，其中 "
        f"{summary['totals']['paid_out_from_other_members_orders_yuan']} 元来自其他会员的订单："
        "出局者拿到的钱，几乎全是别人的消费款。"
        f"最后仍有 {summary['totals']['value_on_paper_yuan']} 元停留在纸面上，"
        "只有后来者继续下单才能兑现。"
    )
    explanation_en = (
        f"Only {params.pool_bp / 100:g}% of each order enters the profit pool and the point price "
        "is pool ÷ points in circulation, so the price rises only on new orders (and on the 20% "
        f"each sale leaves behind). A forced exit at {k}× pays only {haircut_k}× the spend "
        f"(the sell haircut). {en_exit} "
        f"In all ¥{summary['totals']['paid_out_yuan']} was paid out, of which "
        f"¥{summary['totals']['paid_out_from_other_members_orders_yuan']} came from other "
        "members' orders: what an exiting member is paid is almost entirely other people's "
        f"spending. ¥{summary['totals']['value_on_paper_yuan']} is left on paper at the end, "
        "payable only if later members keep ordering."
    )
    return explanation_zh, explanation_en


def _charts(rows: list[dict[str, Any]]) -> tuple[Chart, ...]:
    return (
        Chart(
            name="price_path",
            title_zh="每笔订单后的积分价格",
            title_en="Point price after each order",
            x_label="order",
            y_label="price (yuan per point)",
            series={"price": [(float(r["order"]), float(r["price_yuan"])) for r in rows]},
        ),
        Chart(
            name="pool",
            title_zh="盈利池余额",
            title_en="Profit pool after each order",
            x_label="order",
            y_label="pool (yuan)",
            series={"pool": [(float(r["order"]), float(r["pool_yuan"])) for r in rows]},
        ),
    )
