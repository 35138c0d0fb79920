"""One business day at the sandbox provider, done through Jifen's WeChat Pay adapter, and the two
bills the provider wrote for it: the material the bill parser and reconciliation are tested on.

The day is 2026-03-03 (China time). The day before, ORDER0000 was paid with a one-day freeze
window, so at 10:00 on the day the provider releases it by itself (a SYSTEM unfreeze). On the day:
four payments (ORDER0004 at the second shop, not for splitting), a split to the reserve and the
operator, a split that releases the rest, an unfreeze instruction, a return and two refunds. Every
number the provider answered is kept in ``Day`` so that tests can say what the bills must hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jifen.payments import (
    BillKind,
    OurPayment,
    OurRefund,
    OurReturn,
    Ours,
    OurSplit,
    PaymentMethod,
    PaymentRequest,
    Receiver,
    ReceiverType,
    RefundRequest,
    ReturnRequest,
    SplitReceiver,
    SplitRequest,
)
from jifen.payments.wechat import WeChatPayConfig, WeChatPayProvider
from sandbox_kit import NAMES, OPERATOR, RESERVE, SHOP_A, SHOP_B, Kit, sandbox

DAY = date(2026, 3, 3)
DAY_10 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 China time
FEE_BP = 60  # the sandbox's default processing fee, 0.60 %
PAID = {  # out_trade_no → (payer, amount_fen, split?)
    "ORDER0001": (SHOP_A, 20_000, True),
    "ORDER0002": (SHOP_A, 10_000, True),
    "ORDER0003": (SHOP_A, 8_000, True),
    "ORDER0004": (SHOP_B, 3_000, False),
}
REFUNDS = {"REFUND0001": ("ORDER0001", 10_000), "REFUND0004": ("ORDER0004", 1_000)}
SPLITS = {  # (out_order_no, receiver) → fen
    ("SPLIT0001", RESERVE): 200,
    ("SPLIT0001", OPERATOR): 40,
    ("SPLIT0002", OPERATOR): 50,
}
RETURN = ("RETURN0001", "SPLIT0001", RESERVE, 100)


def fee_fen(amount_fen: int) -> int:
    """The sandbox's fee: round half up of amount × 60 bp."""
    return (amount_fen * FEE_BP + 5_000) // 10_000


@dataclass
class Day:
    trade_bill: bytes
    split_bill: bytes
    transactions: dict[str, str] = field(default_factory=dict)  # out_trade_no → transaction_id
    refund_ids: dict[str, str] = field(default_factory=dict)
    order_ids: dict[str, str] = field(default_factory=dict)  # out_order_no → order_id
    detail_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    return_id: str = ""

    def ours(self) -> Ours:
        """What Jifen recorded of the day: exactly what it did."""
        return Ours(
            payments=[
                OurPayment(no, self.transactions[no], amount) for no, (_, amount, _) in PAID.items()
            ],
            refunds=[
                OurRefund(no, self.transactions[order], fen) for no, (order, fen) in REFUNDS.items()
            ],
            splits=[OurSplit(order, account, fen) for (order, account), fen in SPLITS.items()],
            returns=[OurReturn(*RETURN)],
            known_orders=frozenset({"UNFREEZE0003"}),
            known_transactions=frozenset({self.transactions["ORDER0000"]}),
        )


def _pay(kit: Kit, wx: WeChatPayProvider, day: Day, out_trade_no: str, payer: str, fen: int,
         split: bool) -> None:  # fmt: skip
    wx.create_payment(
        PaymentRequest(
            merchant=payer, out_trade_no=out_trade_no, amount_fen=fen, description="午餐",
            notify_url="http://127.0.0.1:9/notify", method=PaymentMethod.NATIVE,
            attach=f"shop/{out_trade_no}", profit_sharing=split,
        )
    )  # fmt: skip
    paid = kit.ok(kit.control.post("/sandbox/pay", json={"out_trade_no": out_trade_no}))
    day.transactions[out_trade_no] = paid["transaction_id"]


def _split(wx: WeChatPayProvider, day: Day, out_order_no: str, unfreeze: bool, order: str) -> None:
    receivers = tuple(
        SplitReceiver(Receiver(ReceiverType.MERCHANT, account), fen, "分账")
        for (number, account), fen in SPLITS.items()
        if number == out_order_no
    )
    request = SplitRequest(SHOP_A, day.transactions[order], out_order_no, receivers, unfreeze)
    day.order_ids[out_order_no] = wx.split(request).order_id


def run_the_day(tmp_path: Path, tmp_factory: Any) -> Day:
    with sandbox(tmp_path, tmp_factory) as kit:
        wx = WeChatPayProvider(WeChatPayConfig.from_mapping(kit.credentials))
        kit.ok(kit.control.patch("/sandbox/settings", json={"freeze_days_partner": 1}))
        for account in (RESERVE, OPERATOR):
            wx.add_receiver(Receiver(ReceiverType.MERCHANT, account, NAMES[account]), SHOP_A)
        day = Day(b"", b"")
        _pay(kit, wx, day, "ORDER0000", SHOP_A, 5_000, True)  # the day before, 10:00
        kit.advance(86_400)  # 10:00 on the day: ORDER0000's freeze window ends
        for out_trade_no, (payer, fen, split) in PAID.items():
            _pay(kit, wx, day, out_trade_no, payer, fen, split)
        kit.advance(60)  # settled: splittable
        _split(wx, day, "SPLIT0001", False, "ORDER0001")
        _split(wx, day, "SPLIT0002", True, "ORDER0002")
        day.order_ids["UNFREEZE0003"] = wx.unfreeze(
            day.transactions["ORDER0003"], "UNFREEZE0003", "解冻", SHOP_A
        ).order_id
        kit.advance(60)  # the splits resolve
        for number, order in (("SPLIT0001", "ORDER0001"), ("SPLIT0002", "ORDER0002")):
            for line in wx.query_split(day.transactions[order], number, SHOP_A).receivers:
                day.detail_ids[(number, line.account)] = line.detail_id or ""
        out_return_no, out_order_no, account, fen = RETURN
        day.return_id = wx.return_split(
            ReturnRequest(SHOP_A, out_order_no, out_return_no, account, fen, "退款回退")
        ).return_id
        for out_refund_no, (order, fen) in REFUNDS.items():
            payer, total, _ = PAID[order]
            request = RefundRequest(payer, day.transactions[order], out_refund_no, fen, total, "退")
            day.refund_ids[out_refund_no] = wx.refund(request).refund_id
        kit.advance(86_400)  # the day's bills exist from 10:00 the next day
        day.trade_bill = wx.bill(BillKind.TRADE, DAY).content
        day.split_bill = wx.bill(BillKind.SPLIT, DAY).content
        return day


def at(seconds_after_ten: int) -> datetime:
    return DAY_10 + timedelta(seconds=seconds_after_ten)
