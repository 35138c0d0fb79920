"""Alipay's answers and notifications read into the protocol's plain values (``alipay.py``).

Each reader takes the verified business object of one answer. A field missing or an amount that
is not a whole number of fen raises ``KeyError``/``ValueError``, which the adapter turns into
``ProviderRefused`` (``BAD_ANSWER``): a malformed answer is never guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from jifen.payments._alipay_wire import AlipayClient, china_time, fen_of
from jifen.payments.errors import NotificationRefused
from jifen.payments.provider import (
    Notification,
    PaymentCreated,
    PaymentState,
    SplitReceiverResult,
    SplitRequest,
    SplitResult,
    TransferResult,
)

_TRADE_STATE = {  # trade_status → the protocol's state (WeChat's words)
    "WAIT_BUYER_PAY": "NOTPAY",
    "TRADE_SUCCESS": "SUCCESS",
    "TRADE_FINISHED": "SUCCESS",  # paid, and no refund is possible any more
    "TRADE_CLOSED": "CLOSED",  # never paid in time, or refunded in full
}
_ROYALTY_RESULT = {"SUCCESS": "SUCCESS", "FAIL": "CLOSED", "PROCESSING": "PENDING"}
_TRANSFER_STATE = {"SUCCESS": "SUCCESS", "FAIL": "FAILED", "REFUND": "FAILED", "CLOSED": "FAILED"}


def payment_created(answer: Mapping[str, Any]) -> PaymentCreated:
    """precreate answers a ``qr_code``; create a ``trade_no`` (what the mini program's
    ``my.tradePay`` takes, kept as ``prepay_id``)."""
    return PaymentCreated(
        out_trade_no=str(answer["out_trade_no"]),
        prepay_id=answer.get("trade_no"),
        code_url=answer.get("qr_code"),
    )


def payment_state(answer: Mapping[str, Any]) -> PaymentState:
    status = str(answer.get("trade_status", ""))
    return PaymentState(
        out_trade_no=str(answer["out_trade_no"]),
        transaction_id=answer.get("trade_no"),
        state=_TRADE_STATE.get(status, status),
        amount_fen=fen_of(answer["total_amount"]),
        success_time=china_time(answer.get("send_pay_date")),
        attach=unquote(str(answer.get("passback_params") or "")),
    )


def settle_result(answer: Mapping[str, Any], request: SplitRequest, mode: str) -> SplitResult:
    """A sync settle that succeeded has moved every part (all or nothing); an async one is
    accepted, each part pending until ``settle.query`` says. The answer lists no parts."""
    done = mode == "sync"
    return SplitResult(
        out_order_no=request.out_order_no,
        order_id=str(answer["settle_no"]),
        state="FINISHED" if done else "PROCESSING",
        receivers=tuple(
            SplitReceiverResult(r.receiver.account, r.fen, "SUCCESS" if done else "PENDING")
            for r in request.receivers
        ),
    )


def settle_query_result(answer: Mapping[str, Any], out_order_no: str) -> SplitResult:
    receivers = tuple(
        SplitReceiverResult(
            account=str(row["trans_in"]),
            fen=fen_of(row["amount"]),
            result=_ROYALTY_RESULT.get(str(row.get("state")), str(row.get("state"))),
            fail_reason=row.get("error_code") or None,
            detail_id=row.get("detail_id"),
        )
        for row in answer.get("royalty_detail_list") or ()
        if row.get("trans_in")
    )
    pending = any(r.result == "PENDING" for r in receivers)
    return SplitResult(
        out_order_no=str(answer.get("out_request_no") or out_order_no),
        order_id=str(answer.get("settle_no", "")),
        state="PROCESSING" if pending else "FINISHED",
        receivers=receivers,
    )


def refund_status(answer: Mapping[str, Any]) -> str:
    """Alipay answers a refund it made with its data (``refund_status`` REFUND_SUCCESS, or
    empty on older accounts) and one it has not made with none: that is read as PROCESSING,
    and a retry with the same ``out_refund_no`` settles it."""
    made = bool(answer.get("refund_amount"))
    status = str(answer.get("refund_status") or "")
    return "SUCCESS" if made and status in ("", "REFUND_SUCCESS") else "PROCESSING"


def transfer_result(answer: Mapping[str, Any], out_transfer_no: str) -> TransferResult:
    status = str(answer.get("status", ""))
    return TransferResult(
        out_transfer_no=str(answer.get("out_biz_no") or out_transfer_no),
        transfer_id=str(answer["order_id"]),
        state=_TRANSFER_STATE.get(status, "PROCESSING"),  # DEALING, WAIT_PAY, INIT
        fail_reason=answer.get("fail_reason") or answer.get("error_code") or None,
    )


def notification(client: AlipayClient, app_id: str, body: bytes) -> Notification:
    """A verified ``trade_status_sync`` notify. A payment is ``TRANSACTION.SUCCESS``; a refund
    (Alipay sends it with ``refund_fee``/``out_biz_no`` and the trade's status, which stays
    TRADE_SUCCESS after a partial refund) is ``REFUND.SUCCESS``, never read as a payment."""
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotificationRefused("支付宝通知格式错误 / the notification is not a form") from exc
    client.verify_notification(fields)
    if fields.get("app_id") != app_id:
        raise NotificationRefused("通知不属于本应用 / the notification is for another app")
    try:
        event_type, resource = _event(fields)
        created_at = china_time(fields.get("notify_time"))
    except (KeyError, ValueError) as exc:
        raise NotificationRefused("支付宝通知字段错误 / the notification's fields are bad") from exc
    return Notification(str(fields.get("notify_id", "")), event_type, resource, created_at)


def _event(fields: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    status = fields.get("trade_status", "")
    resource: dict[str, Any] = {
        "out_trade_no": fields["out_trade_no"],
        "transaction_id": fields["trade_no"],
        "trade_status": status,
        "amount": {"total": fen_of(fields["total_amount"]), "currency": "CNY"},
        "attach": unquote(fields.get("passback_params", "")),
        "alipay": dict(fields),  # everything Alipay sent, verified, for the records
    }
    if fields.get("out_biz_no") or fields.get("refund_fee"):
        resource["out_refund_no"] = fields.get("out_biz_no", "")
        resource["amount"]["refunded"] = fen_of(fields["refund_fee"])  # cumulative
        resource["success_time"] = _iso(fields.get("gmt_refund"))
        return "REFUND.SUCCESS", resource
    resource["success_time"] = _iso(fields.get("gmt_payment"))
    if status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        return "TRANSACTION.SUCCESS", resource
    return f"TRANSACTION.{_TRADE_STATE.get(status, status or 'UNKNOWN')}", resource


def _iso(text: str | None) -> str | None:
    when = china_time(text)
    return when.isoformat() if when else None
