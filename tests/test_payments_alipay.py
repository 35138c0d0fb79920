"""The Alipay adapter (issue 10) against a fake Alipay gateway on 127.0.0.1: every request's RSA2
signature is checked with the app's public key, every answer is signed with a test "Alipay" key
so that the SDK's own verification runs, and amounts cross as exact yuan strings. Refusals carry
Alipay's code, outages are ``ProviderUnavailable``, forged notifications are refused."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jifen.errors import InvalidRequest
from jifen.payments import (
    BillKind,
    MerchantNotAuthorized,
    NotificationRefused,
    NotOffered,
    PaymentMethod,
    PaymentRequest,
    PlanTooManyReceivers,
    ProviderRefused,
    ProviderUnavailable,
    Receiver,
    ReceiverType,
    RefundRequest,
    RefundReturn,
    ReturnRequest,
    SplitReceiver,
    SplitRequest,
    TransferRequest,
)
from jifen.payments.alipay import AlipayConfig, AlipayProvider

CHINA = timezone(timedelta(hours=8))
APP_ID = "2021000000000001"
OWN_PID = "2088000000000001"  # the app owner: acts for itself without a token
SHOP = "2088000000000002"  # a merchant that authorized the app
TOKEN = "202603BBshopA"
RESERVE, OPERATOR = "2088000000000003", "2088000000000004"
APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALIPAY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
WRONG_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _signed_content(
    fields: dict[str, str], leave_out: tuple[str, ...] = ("sign", "sign_type")
) -> str:
    """What is signed: the fields sorted, ``k=v`` joined by ``&``, less ``sign`` (a request) or
    less ``sign`` and ``sign_type`` (a notification)."""
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k not in leave_out)


@dataclass
class Call:
    method: str
    biz: dict[str, Any]
    params: dict[str, str]


@dataclass
class Gateway:
    """The fake: ``replies[method]`` is the business object it answers (a dict, or a function
    of the request's biz_content); ``status`` other than 200 answers that HTTP status instead."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    bad_requests: list[str] = field(default_factory=list)
    replies: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    sign_with: rsa.RSAPrivateKey = ALIPAY_KEY
    bill: bytes = b""

    def only(self, method: str) -> Call:
        calls = [c for c in self.calls if c.method == method]
        assert len(calls) == 1, [c.method for c in self.calls]
        return calls[0]

    def answer(self, params: dict[str, str]) -> str:
        sign = params.pop("sign", "")
        try:
            APP_KEY.public_key().verify(
                base64.b64decode(sign),
                _signed_content(params, ("sign",)).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            self.bad_requests.append(f"bad signature on {params.get('method')}")
            return '{"error_response":{"code":"40002","sub_code":"isv.invalid-signature"}}'
        sent = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
        if abs(sent - datetime.now(UTC)) > timedelta(minutes=5):
            self.bad_requests.append(f"timestamp not China time: {params['timestamp']}")
        method, biz = params["method"], json.loads(params.get("biz_content") or "{}")
        self.calls.append(Call(method, biz, params))
        reply = self.replies.get(method, {})
        payload = {"code": "10000", "msg": "Success", **(reply(biz) if callable(reply) else reply)}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        name = method.replace(".", "_") + "_response"
        return f'{{"{name}":{text},"sign":"{_sign(self.sign_with, text)}"}}'


def _handler(gw: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            if gw.status != 200:
                self._send(gw.status, b"busy", "text/plain")
                return
            text = gw.answer(dict(parse_qsl(body, keep_blank_values=True)))
            self._send(200, text.encode(), "text/html;charset=utf-8")

        def do_GET(self) -> None:  # the bill download
            self._send(200, gw.bill, "application/zip")

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gw))
    gw.url = f"http://127.0.0.1:{server.server_address[1]}/gateway.do"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()
    assert not gw.bad_requests, gw.bad_requests


def _config(url: str, **overrides: Any) -> AlipayConfig:
    fields: dict[str, Any] = {
        "app_id": APP_ID,
        "private_key": _private_pem(APP_KEY),
        "alipay_public_key": _public_pem(ALIPAY_KEY),
        "gateway_url": url,
        "notify_url": "https://jifen.example/alipay/notify",
        "pid": OWN_PID,
        "app_auth_tokens": {SHOP: TOKEN},
    }
    return AlipayConfig(**{**fields, **overrides})


@pytest.fixture
def ali(gateway: Gateway) -> AlipayProvider:
    return AlipayProvider(_config(gateway.url))


def _receivers(*fens: int) -> tuple[SplitReceiver, ...]:
    return tuple(
        SplitReceiver(Receiver(ReceiverType.MERCHANT, f"20880000000001{i:02d}"), fen, f"第{i}方")
        for i, fen in enumerate(fens)
    )


# -- payments -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "yuan"), [(1, "0.01"), (10, "0.10"), (100, "1.00"), (123_456, "1234.56")]
)
def test_a_qr_payment_is_a_precreate_for_the_merchant_in_exact_yuan(
    gateway: Gateway, ali: AlipayProvider, fen: int, yuan: str
) -> None:
    gateway.replies["alipay.trade.precreate"] = lambda biz: {
        "out_trade_no": biz["out_trade_no"], "qr_code": "https://qr.alipay.com/bax01",
    }  # fmt: skip
    created = ali.create_payment(
        PaymentRequest(SHOP, "ORDER0001", fen, "午餐", "", attach="cafe/o-1&m=1")
    )
    assert (created.out_trade_no, created.code_url) == ("ORDER0001", "https://qr.alipay.com/bax01")
    call = gateway.only("alipay.trade.precreate")
    assert call.biz["total_amount"] == yuan
    assert call.biz["product_code"] == "FACE_TO_FACE_PAYMENT"
    assert call.biz["passback_params"] == "cafe%2Fo-1%26m%3D1"
    assert (call.params["app_id"], call.params["sign_type"]) == (APP_ID, "RSA2")
    assert call.params["app_auth_token"] == TOKEN  # paid to the merchant, not the operator
    assert call.params["notify_url"] == "https://jifen.example/alipay/notify"


def test_a_mini_program_payment_is_a_create_with_the_buyer(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    gateway.replies["alipay.trade.create"] = {"out_trade_no": "ORDER0002", "trade_no": "2026T2"}
    for payer, key in (("2088000000009999", "buyer_id"), ("074abcOpenId", "buyer_open_id")):
        created = ali.create_payment(
            PaymentRequest(
                OWN_PID, "ORDER0002", 2_000, "咖啡", "https://shop.example/n",
                method=PaymentMethod.JSAPI, payer_openid=payer,
            )
        )  # fmt: skip
        assert created.prepay_id == "2026T2"
        call = gateway.calls[-1]
        assert (call.method, call.biz[key], call.biz["product_code"]) == (
            "alipay.trade.create", payer, "JSAPI_PAY",
        )  # fmt: skip
        assert "app_auth_token" not in call.params  # the app owner's own trade
        assert call.params["notify_url"] == "https://shop.example/n"


def test_a_merchant_that_did_not_authorize_the_app_is_refused_before_anything_is_sent(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    with pytest.raises(MerchantNotAuthorized):
        ali.create_payment(PaymentRequest("2088000000000777", "ORDER0003", 100, "x", ""))
    assert gateway.calls == []


def test_a_payment_query_maps_the_trade(gateway: Gateway, ali: AlipayProvider) -> None:
    gateway.replies["alipay.trade.query"] = {
        "out_trade_no": "ORDER0001", "trade_no": "2026T1", "trade_status": "TRADE_SUCCESS",
        "total_amount": "1234.56", "send_pay_date": "2026-03-02 10:00:05",
    }  # fmt: skip
    state = ali.query_payment("ORDER0001", SHOP)
    assert (state.state, state.amount_fen, state.transaction_id) == ("SUCCESS", 123_456, "2026T1")
    assert state.success_time == datetime(2026, 3, 2, 2, 0, 5, tzinfo=UTC)
    assert gateway.only("alipay.trade.query").biz == {"out_trade_no": "ORDER0001"}


def test_an_amount_that_is_not_whole_fen_is_refused_not_rounded(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    gateway.replies["alipay.trade.query"] = {
        "out_trade_no": "ORDER0001", "trade_no": "2026T1", "trade_status": "TRADE_SUCCESS",
        "total_amount": "12.345",
    }  # fmt: skip
    with pytest.raises(ProviderRefused) as refused:
        ali.query_payment("ORDER0001", SHOP)
    assert refused.value.context["provider_code"] == "BAD_ANSWER"


# -- refusals and outages -------------------------------------------------------------------------


def test_a_refusal_carries_alipays_sub_code(gateway: Gateway, ali: AlipayProvider) -> None:
    gateway.replies["alipay.trade.query"] = {
        "code": "40004", "msg": "Business Failed",
        "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在 {}",
    }  # fmt: skip
    with pytest.raises(ProviderRefused) as refused:
        ali.query_payment("ORDER0404", SHOP)
    assert refused.value.context["provider_code"] == "ACQ.TRADE_NOT_EXIST"
    assert refused.value.context["provider_status"] == "40004"


def test_a_system_error_a_5xx_a_closed_port_and_a_forged_answer_are_unavailable(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    gateway.replies["alipay.trade.query"] = {"code": "40004", "sub_code": "ACQ.SYSTEM_ERROR"}
    with pytest.raises(ProviderUnavailable):
        ali.query_payment("ORDER0001", SHOP)
    gateway.replies["alipay.trade.query"] = {"code": "20000", "sub_code": "isp.unknow-error"}
    with pytest.raises(ProviderUnavailable):
        ali.query_payment("ORDER0001", SHOP)
    gateway.replies["alipay.trade.query"] = {"out_trade_no": "ORDER0001", "total_amount": "1.00"}
    gateway.sign_with = WRONG_KEY  # an answer not signed by Alipay is not believed
    with pytest.raises(ProviderUnavailable):
        ali.query_payment("ORDER0001", SHOP)
    gateway.status = 502
    with pytest.raises(ProviderUnavailable):
        ali.query_payment("ORDER0001", SHOP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/gateway.do"
    with pytest.raises(ProviderUnavailable):
        AlipayProvider(_config(closed)).query_payment("ORDER0001", SHOP)


# -- receivers and splits -------------------------------------------------------------------------


def test_receivers_are_bound_and_unbound_as_royalty_relations(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    gateway.replies["alipay.trade.royalty.relation.bind"] = {"result_code": "SUCCESS"}
    ali.add_receiver(Receiver(ReceiverType.MERCHANT, RESERVE, "积分准备金有限公司"), SHOP)
    ali.remove_receiver(Receiver(ReceiverType.MERCHANT, RESERVE), SHOP)
    bind = gateway.only("alipay.trade.royalty.relation.bind")
    assert bind.biz["receiver_list"] == [
        {"type": "userId", "account": RESERVE, "name": "积分准备金有限公司", "memo": "PARTNER"}
    ]
    assert bind.params["app_auth_token"] == TOKEN
    unbind = gateway.only("alipay.trade.royalty.relation.unbind")
    assert unbind.biz["receiver_list"] == [{"type": "userId", "account": RESERVE}]
    assert bind.biz["out_request_no"] != unbind.biz["out_request_no"]
    gateway.replies["alipay.trade.royalty.relation.bind"] = {"result_code": "FAIL"}
    with pytest.raises(ProviderRefused):
        ali.add_receiver(Receiver(ReceiverType.MERCHANT, OPERATOR), SHOP)


def test_a_split_of_five_is_a_sync_settle_in_exact_yuan(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    gateway.replies["alipay.trade.order.settle"] = {"trade_no": "2026T1", "settle_no": "S1"}
    split = ali.split(SplitRequest(SHOP, "2026T1", "SPLIT0001", _receivers(1, 123_456, 30, 7, 5)))
    call = gateway.only("alipay.trade.order.settle")
    assert call.biz["royalty_mode"] == "sync"
    assert (call.biz["out_request_no"], call.biz["trade_no"]) == ("SPLIT0001", "2026T1")
    assert [p["amount"] for p in call.biz["royalty_parameters"]] == [
        "0.01", "1234.56", "0.30", "0.07", "0.05",
    ]  # fmt: skip
    first = call.biz["royalty_parameters"][0]
    assert (first["royalty_type"], first["trans_in_type"], first["trans_in"]) == (
        "transfer", "userId", "2088000000000100",
    )  # fmt: skip
    assert "extend_params" not in call.biz
    assert (split.order_id, split.state) == ("S1", "FINISHED")
    assert {r.result for r in split.receivers} == {"SUCCESS"}
    assert [r.fen for r in split.receivers] == [1, 123_456, 30, 7, 5]


def test_a_split_of_more_than_five_goes_async_and_more_than_fifty_is_refused(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    gateway.replies["alipay.trade.order.settle"] = {"trade_no": "2026T1", "settle_no": "S2"}
    split = ali.split(
        SplitRequest(SHOP, "2026T1", "SPLIT0002", _receivers(*[10] * 6), unfreeze_unsplit=True)
    )
    call = gateway.only("alipay.trade.order.settle")
    assert (call.biz["royalty_mode"], len(call.biz["royalty_parameters"])) == ("async", 6)
    assert call.biz["extend_params"] == {"royalty_finish": "true"}
    assert split.state == "PROCESSING" and {r.result for r in split.receivers} == {"PENDING"}
    with pytest.raises(PlanTooManyReceivers):
        ali.split(SplitRequest(SHOP, "2026T1", "SPLIT0003", _receivers(*[1] * 51)))
    assert len(gateway.calls) == 1


SHORT = "TXN_RESULT_ACCOUNT_BALANCE_NOT_ENOUGH"


def test_a_split_query_maps_each_part_and_a_failed_one_is_closed(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    gateway.replies["alipay.trade.order.settle.query"] = {
        "out_request_no": "SPLIT0002", "operation_dt": "2026-03-02 10:01:00",
        "royalty_detail_list": [
            {"operation_type": "transfer", "trans_in": RESERVE, "amount": "2.00",
             "state": "SUCCESS", "detail_id": "D1"},
            {"operation_type": "transfer", "trans_in": OPERATOR, "amount": "0.40",
             "state": "FAIL", "detail_id": "D2", "error_code": SHORT},
        ],
    }  # fmt: skip
    done = ali.query_split("2026T1", "SPLIT0002", SHOP)
    assert gateway.only("alipay.trade.order.settle.query").biz == {
        "out_request_no": "SPLIT0002", "trade_no": "2026T1",
    }  # fmt: skip
    assert done.state == "FINISHED"
    assert [(r.account, r.fen, r.result, r.fail_reason, r.detail_id) for r in done.receivers] == [
        (RESERVE, 200, "SUCCESS", None, "D1"),
        (OPERATOR, 40, "CLOSED", SHORT, "D2"),
    ]
    gateway.replies["alipay.trade.order.settle.query"]["royalty_detail_list"][1]["state"] = (
        "PROCESSING"
    )
    assert ali.query_split("2026T1", "SPLIT0002", SHOP).state == "PROCESSING"


def test_unfreeze_finishes_the_trade_and_the_rest_is_read_from_onsettle(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    gateway.replies["alipay.trade.order.settle"] = {"trade_no": "2026T1", "settle_no": "S9"}
    gateway.replies["alipay.trade.order.onsettle.query"] = {"unsettled_amount": "197.60"}
    done = ali.unfreeze("2026T1", "UNFREEZE01", "解冻", SHOP)
    call = gateway.only("alipay.trade.order.settle")
    assert call.biz["royalty_parameters"] == []
    assert call.biz["extend_params"] == {"royalty_finish": "true"}
    assert (done.out_order_no, done.order_id, done.state) == ("UNFREEZE01", "S9", "FINISHED")
    assert ali.unsplit_fen("2026T1", SHOP) == 19_760
    assert gateway.only("alipay.trade.order.onsettle.query").biz == {"trade_no": "2026T1"}


# -- refunds, returns, payouts, bills -------------------------------------------------------------


def test_a_refund_takes_the_split_back_inside_it(gateway: Gateway, ali: AlipayProvider) -> None:
    gateway.replies["alipay.trade.refund"] = {"trade_no": "2026T1", "fund_change": "Y"}
    refund = ali.refund(
        RefundRequest(
            SHOP, "2026T1", "REFUND0001", 10_001, 20_000, "退货",
            split_returns=(RefundReturn(RESERVE, 100, "退准备金"),),
        )
    )  # fmt: skip
    assert (refund.out_refund_no, refund.status) == ("REFUND0001", "SUCCESS")
    call = gateway.only("alipay.trade.refund")
    assert (call.biz["refund_amount"], call.biz["out_request_no"]) == ("100.01", "REFUND0001")
    assert call.biz["refund_royalty_parameters"] == [
        {"royalty_type": "transfer", "trans_out_type": "userId", "trans_out": RESERVE,
         "amount": "1.00", "desc": "退准备金"},
    ]  # fmt: skip
    gateway.replies["alipay.trade.refund"] = {"trade_no": "2026T1", "fund_change": "N"}
    plain = ali.refund(RefundRequest(SHOP, "2026T1", "REFUND0002", 1, 20_000, ""))
    assert plain.status == "PROCESSING"
    assert "refund_royalty_parameters" not in gateway.calls[-1].biz


def test_a_refund_is_found_within_its_trade(gateway: Gateway, ali: AlipayProvider) -> None:
    gateway.replies["alipay.trade.fastpay.refund.query"] = {
        "out_request_no": "REFUND0001", "refund_amount": "100.01",
        "refund_status": "REFUND_SUCCESS",
    }  # fmt: skip
    assert ali.query_refund("REFUND0001", SHOP, "2026T1").status == "SUCCESS"
    assert gateway.only("alipay.trade.fastpay.refund.query").biz == {
        "trade_no": "2026T1", "out_request_no": "REFUND0001",
    }  # fmt: skip
    gateway.replies["alipay.trade.fastpay.refund.query"] = {}  # not made (yet)
    assert ali.query_refund("REFUND0001", SHOP, "2026T1").status == "PROCESSING"
    with pytest.raises(InvalidRequest):
        ali.query_refund("REFUND0001", SHOP)


def test_a_separate_split_return_is_not_offered(gateway: Gateway, ali: AlipayProvider) -> None:
    with pytest.raises(NotOffered, match="refund_royalty_parameters"):
        ali.return_split(ReturnRequest(SHOP, "SPLIT0001", "RETURN0001", RESERVE, 100, "回退"))
    with pytest.raises(NotOffered):
        ali.query_return("SPLIT0001", "RETURN0001", SHOP)
    assert gateway.calls == []


def test_a_payout_is_a_transfer_from_the_reserve(gateway: Gateway) -> None:
    tokens = {SHOP: TOKEN, RESERVE: "202603BBreserve"}
    ali = AlipayProvider(_config(gateway.url, reserve_merchant=RESERVE, app_auth_tokens=tokens))
    gateway.replies["alipay.fund.trans.uni.transfer"] = {
        "out_biz_no": "PAYOUT0001", "order_id": "F1", "status": "SUCCESS",
    }  # fmt: skip
    gateway.replies["alipay.fund.trans.common.query"] = {"order_id": "F1", "status": "DEALING"}
    paid = ali.transfer(TransferRequest("PAYOUT0001", SHOP, 123_456, "积分兑付"))
    assert (paid.transfer_id, paid.state) == ("F1", "SUCCESS")
    call = gateway.only("alipay.fund.trans.uni.transfer")
    assert call.biz["trans_amount"] == "1234.56"
    assert call.biz["payee_info"] == {"identity": SHOP, "identity_type": "ALIPAY_USER_ID"}
    assert call.params["app_auth_token"] == "202603BBreserve"  # paid from the reserve's account
    queried = ali.query_transfer("PAYOUT0001")
    assert (queried.out_transfer_no, queried.state) == ("PAYOUT0001", "PROCESSING")


def test_the_trade_bill_is_fetched_from_the_url_alipay_names(
    gateway: Gateway, ali: AlipayProvider
) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(
            "20880000000000020156_20260302_业务明细.csv", "支付宝交易号,商户订单号\n".encode("gbk")
        )
    gateway.bill = archive.getvalue()
    gateway.replies["alipay.data.dataservice.bill.downloadurl.query"] = {
        "bill_download_url": gateway.url.replace("gateway.do", "bill?token=1"),
    }  # fmt: skip
    bill = ali.bill(BillKind.TRADE, date(2026, 3, 2), SHOP)
    assert bill.content == gateway.bill and bill.hash_type == "NONE"
    call = gateway.only("alipay.data.dataservice.bill.downloadurl.query")
    assert call.biz == {"bill_type": "trade", "bill_date": "2026-03-02"}
    with pytest.raises(NotOffered):
        ali.bill(BillKind.SPLIT, date(2026, 3, 2))


# -- notifications --------------------------------------------------------------------------------


def _notify(key: rsa.RSAPrivateKey = ALIPAY_KEY, **changes: str) -> dict[str, str]:
    fields = {
        "notify_time": "2026-03-02 10:00:06", "notify_type": "trade_status_sync",
        "notify_id": "N1", "app_id": APP_ID, "charset": "utf-8", "version": "1.0",
        "trade_no": "2026T1", "out_trade_no": "ORDER0001", "trade_status": "TRADE_SUCCESS",
        "total_amount": "200.00", "gmt_payment": "2026-03-02 10:00:05",
        "passback_params": "cafe%2Fo-1%2Fm1", "seller_id": SHOP,
    }  # fmt: skip
    fields.update(changes)
    return {**fields, "sign_type": "RSA2", "sign": _sign(key, _signed_content(fields))}


def _body(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def test_a_payment_notification_that_verifies_is_a_transaction_success(
    ali: AlipayProvider,
) -> None:
    note = ali.parse_notification({}, _body(_notify()))
    assert (note.event_id, note.event_type) == ("N1", "TRANSACTION.SUCCESS")
    assert note.resource["out_trade_no"] == "ORDER0001"
    assert note.resource["transaction_id"] == "2026T1"
    assert note.resource["amount"]["total"] == 20_000
    assert note.resource["attach"] == "cafe/o-1/m1"
    assert note.resource["success_time"] == "2026-03-02T02:00:05+00:00"
    assert note.created_at == datetime(2026, 3, 2, 2, 0, 6, tzinfo=UTC)


def test_a_refund_notification_is_never_read_as_a_payment(ali: AlipayProvider) -> None:
    fields = _notify(out_biz_no="REFUND0001", refund_fee="100.01", gmt_refund="2026-03-03 09:00:00")
    note = ali.parse_notification({}, _body(fields))
    assert note.event_type == "REFUND.SUCCESS"
    assert (note.resource["out_refund_no"], note.resource["amount"]["refunded"]) == (
        "REFUND0001", 10_001,
    )  # fmt: skip


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda f: {**f, "total_amount": "2000.00"}, id="tampered"),
        pytest.param(lambda f: _notify(WRONG_KEY), id="wrong-key"),
        pytest.param(lambda f: {k: v for k, v in f.items() if k != "sign"}, id="unsigned"),
        pytest.param(lambda f: {**f, "sign_type": "RSA"}, id="sign-type"),
        pytest.param(lambda f: _notify(app_id="2021000000009999"), id="other-app"),
        pytest.param(lambda f: _notify(total_amount="0.015"), id="not-whole-fen"),
    ],
)
def test_a_notification_that_does_not_verify_is_refused(
    ali: AlipayProvider, forge: Callable[[dict[str, str]], dict[str, str]]
) -> None:
    with pytest.raises(NotificationRefused):
        ali.parse_notification({}, _body(forge(_notify())))
    with pytest.raises(NotificationRefused):
        ali.parse_notification({}, b"\xff\xfe not a form")


# -- configuration --------------------------------------------------------------------------------


def test_the_config_reads_keys_from_files_or_the_environment_never_inline(tmp_path: Path) -> None:
    (tmp_path / "app.pem").write_text(_private_pem(APP_KEY))
    bare = "".join(_public_pem(ALIPAY_KEY).splitlines()[1:-1])  # as Alipay's key tool prints it
    env = {"ALIPAY_PUBLIC_KEY": bare, "ALIPAY_TOKENS": json.dumps({SHOP: TOKEN})}
    config = AlipayConfig.from_mapping(
        {
            "app_id": APP_ID, "app_private_key_file": str(tmp_path / "app.pem"),
            "alipay_public_key_env": "ALIPAY_PUBLIC_KEY", "app_auth_tokens_env": "ALIPAY_TOKENS",
            "notify_url": "https://jifen.example/n",
        },
        env,
    )  # fmt: skip
    assert config.gateway_url == "https://openapi.alipay.com/gateway.do"
    assert config.alipay_public_key.startswith("-----BEGIN PUBLIC KEY-----")
    assert config.app_auth_tokens == {SHOP: TOKEN}
    AlipayProvider(config)  # the SDK loads both keys
    with pytest.raises(InvalidRequest):
        AlipayConfig.from_mapping({"app_id": APP_ID, "app_private_key": "inline"}, env)
    with pytest.raises(InvalidRequest):
        AlipayConfig.from_mapping(
            {"app_id": APP_ID, "app_private_key_env": "UNSET", "alipay_public_key_env": "X"}, env
        )
    with pytest.raises(InvalidRequest):
        _config("http://127.0.0.1:1/gateway.do", sign_type="RSA")
