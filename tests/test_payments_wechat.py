"""The WeChat Pay adapter (issue 10) against the sandbox provider over real HTTP: every method of
the ``Provider`` protocol, its answers verified and mapped, refusals as ``ProviderRefused`` with
WeChat's code, and callbacks that do not verify (forged, stale) refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jifen.payments import (
    BillKind,
    NotificationRefused,
    NotOffered,
    PaymentMethod,
    PaymentRequest,
    ProviderRefused,
    Receiver,
    ReceiverType,
    RefundRequest,
    RefundReturn,
    ReturnRequest,
    SplitReceiver,
    SplitRequest,
    TransferRequest,
)
from jifen.payments.wechat import WeChatPayConfig, WeChatPayProvider
from sandbox_kit import NAMES, OPERATOR, RESERVE, SHOP_A, Kit, sandbox


class _Inbox(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def inbox() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A notify URL that keeps what it is sent, exactly as sent."""
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Inbox", (_Inbox,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/notify", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def kit(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    with sandbox(tmp_path, tmp_path_factory) as k:
        yield k


def _provider(kit: Kit, tmp_path: Path) -> WeChatPayProvider:
    return WeChatPayProvider(WeChatPayConfig.from_mapping(kit.credentials))


def test_a_payment_split_return_refund_payout_and_bills_through_the_adapter(
    kit: Kit, tmp_path: Path, inbox: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    notify_url, received = inbox
    wx = _provider(kit, tmp_path)
    for account in (RESERVE, OPERATOR):
        wx.add_receiver(Receiver(ReceiverType.MERCHANT, account, NAMES[account]), SHOP_A)
    created = wx.create_payment(
        PaymentRequest(
            merchant=SHOP_A, out_trade_no="ORDER0001", amount_fen=20_000, description="午餐",
            notify_url=notify_url, method=PaymentMethod.NATIVE, attach="cafe/o-1/m1",
        )
    )  # fmt: skip
    assert created.code_url
    kit.ok(kit.control.post("/sandbox/pay", json={"out_trade_no": "ORDER0001"}))
    headers, body = kit.wait_for(lambda: received and received[0])
    note = wx.parse_notification(headers, body)
    assert note.event_type == "TRANSACTION.SUCCESS"
    assert note.resource["attach"] == "cafe/o-1/m1"
    transaction_id = str(note.resource["transaction_id"])
    state = wx.query_payment("ORDER0001", SHOP_A)
    assert (state.state, state.amount_fen, state.transaction_id) == (
        "SUCCESS", 20_000, transaction_id,
    )  # fmt: skip
    kit.advance(60)  # settlement
    split = wx.split(
        SplitRequest(
            merchant=SHOP_A, transaction_id=transaction_id, out_order_no="SPLIT0001",
            receivers=(
                SplitReceiver(Receiver(ReceiverType.MERCHANT, RESERVE), 200, "积分准备金"),
                SplitReceiver(Receiver(ReceiverType.MERCHANT, OPERATOR), 40, "平台服务费"),
            ),
        )
    )  # fmt: skip
    assert split.state == "PROCESSING"
    kit.advance(60)
    done = wx.query_split(transaction_id, "SPLIT0001", SHOP_A)
    assert {(r.account, r.fen, r.result) for r in done.receivers} == {
        (RESERVE, 200, "SUCCESS"), (OPERATOR, 40, "SUCCESS"),
    }  # fmt: skip
    assert all(r.detail_id for r in done.receivers)
    assert wx.unsplit_fen(transaction_id) == 20_000 - 120 - 240  # fee 0.60 %, the split
    returned = wx.return_split(
        ReturnRequest(SHOP_A, "SPLIT0001", "RETURN0001", RESERVE, 100, "退款回退")
    )
    kit.advance(60)
    assert returned.result in ("PROCESSING", "SUCCESS")
    assert wx.query_return("SPLIT0001", "RETURN0001", SHOP_A).result == "SUCCESS"
    refund = wx.refund(RefundRequest(SHOP_A, transaction_id, "REFUND0001", 10_000, 20_000, "退货"))
    assert refund.status in ("PROCESSING", "SUCCESS")
    kit.advance(60)
    assert wx.query_refund("REFUND0001", SHOP_A).status == "SUCCESS"
    payout = wx.transfer(TransferRequest("PAYOUT0001", SHOP_A, 50, "积分兑付"))
    assert wx.query_transfer("PAYOUT0001").transfer_id == payout.transfer_id
    kit.advance(86_400)  # bills for the day exist from 10:00 the next day
    day = date(2026, 3, 2)
    for kind in BillKind:
        bill = wx.bill(kind, day)
        assert bill.content and bill.hash_type == "SHA1"
    trade = wx.bill(BillKind.TRADE, day).content.decode()
    assert "ORDER0001" in trade and "REFUND0001" in trade


def test_a_refusal_carries_wechats_code(kit: Kit, tmp_path: Path) -> None:
    wx = _provider(kit, tmp_path)
    transaction_id = kit.paid("ORDER0002", 10_000)
    kit.advance(60)
    with pytest.raises(ProviderRefused) as refused:
        wx.split(
            SplitRequest(
                merchant=SHOP_A, transaction_id=transaction_id, out_order_no="SPLIT0002",
                receivers=(SplitReceiver(Receiver(ReceiverType.MERCHANT, "1999999999"), 10, "x"),),
            )
        )  # fmt: skip
    assert refused.value.context["provider_code"] == "INVALID_REQUEST"


def test_a_refund_carrying_split_returns_is_not_offered_wechat_returns_first(
    kit: Kit, tmp_path: Path
) -> None:
    wx = _provider(kit, tmp_path)
    transaction_id = kit.paid("ORDER0004", 10_000)
    back = (RefundReturn(RESERVE, 100),)
    with pytest.raises(NotOffered, match="return_split"):
        wx.refund(RefundRequest(SHOP_A, transaction_id, "REFUND0004", 100, 10_000, "x", None, back))
    assert wx.query_payment("ORDER0004", SHOP_A).state == "SUCCESS"  # nothing was refunded


def test_a_notification_that_does_not_verify_is_refused(
    kit: Kit, tmp_path: Path, inbox: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    notify_url, received = inbox
    wx = _provider(kit, tmp_path)
    kit.paid("ORDER0003", 5_000, notify_url=notify_url)
    headers, body = kit.wait_for(lambda: received and received[0])
    wx.parse_notification(headers, body)  # the real one is fine
    forged = body.replace(b'"TRANSACTION.SUCCESS"', b'"REFUND.SUCCESS"')
    with pytest.raises(NotificationRefused):
        wx.parse_notification(headers, forged)
    stale = {**headers, "Wechatpay-Timestamp": str(int(headers["Wechatpay-Timestamp"]) - 600)}
    with pytest.raises(NotificationRefused):
        wx.parse_notification(stale, body)


def test_a_notification_verifies_whatever_the_case_of_its_header_names(
    kit: Kit, tmp_path: Path, inbox: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    """ASGI servers hand header names over lower-cased (uvicorn, so Jifen's notify route); the
    SDK looks them up as WeChat spells them. Before the fix every real callback was refused."""
    notify_url, received = inbox
    wx = _provider(kit, tmp_path)
    kit.paid("ORDER0005", 5_000, notify_url=notify_url)
    headers, body = kit.wait_for(lambda: received and received[0])
    lowered = {name.lower(): value for name, value in headers.items()}
    note = wx.parse_notification(lowered, body)
    assert note.event_type == "TRANSACTION.SUCCESS"
    assert note.resource["out_trade_no"] == "ORDER0005"
