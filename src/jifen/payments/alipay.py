"""Alipay's open API, as a ``Provider``: payments to a merchant's own Alipay account and splits
of them (分账: royalty relations and ``alipay.trade.order.settle``), on ``python-alipay-sdk``.

The operator's app acts for each merchant with the ``app_auth_token`` the merchant granted it
(第三方应用授权): a payment goes to that merchant's account, never to the operator's, and a
merchant without a token is refused before anything is sent. Amounts cross the wire as yuan
strings converted exactly from fen. Where Alipay differs from the protocol's WeChat shape
(returns inside the refund, sync and async settles, no split bill) docs/payments.md
("支付宝 Alipay") says what is done and why.

Why this module is long: one adapter answers the whole ``Provider`` protocol (persons' transfers
included, refused as not offered), and splitting it would scatter one wire's conventions.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from jifen.errors import InvalidRequest
from jifen.payments import _alipay_wire as wire
from jifen.payments._alipay_answers import (
    notification,
    payment_created,
    payment_state,
    refund_status,
    settle_query_result,
    settle_result,
    transfer_result,
)
from jifen.payments.errors import (
    MerchantNotAuthorized,
    NotOffered,
    PlanTooManyReceivers,
    ProviderRefused,
)
from jifen.payments.provider import (
    Bill,
    BillKind,
    Notification,
    PaymentCreated,
    PaymentMethod,
    PaymentRequest,
    PaymentState,
    PersonTransferBatch,
    PersonTransferResult,
    Receiver,
    RefundRequest,
    RefundResult,
    ReturnRequest,
    ReturnResult,
    SplitRequest,
    SplitResult,
    TransferRequest,
    TransferResult,
)

GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
MAX_SYNC_RECEIVERS = 5  # a sync settle: at most 5 receivers, all or nothing (payments.md §2)
MAX_RECEIVERS = 50  # an async settle: at most 50, each succeeds or fails on its own
_IDENTITY = {"userId": "ALIPAY_USER_ID", "loginName": "ALIPAY_LOGON_ID", "openId": "ALIPAY_OPEN_ID"}
_NO_RETURN = (
    "支付宝没有单独的分账回退：在退款中带上 split_returns（refund_royalty_parameters）/ Alipay "
    "has no separate split return: put split_returns on the refund (refund_royalty_parameters)"
)
T = TypeVar("T")


@dataclass(frozen=True)
class AlipayConfig:
    """The operator's Alipay app. Keys and tokens come from files or the environment, never from
    the database (docs/payments.md: 支付宝 Alipay)."""

    app_id: str
    private_key: str  # PEM of the app's private key (RSA2)
    alipay_public_key: str  # PEM of Alipay's public key (公钥模式)
    gateway_url: str = GATEWAY_URL
    notify_url: str = ""  # where Alipay posts payment notifications, unless a payment says
    sign_type: str = "RSA2"
    pid: str = ""  # the app owner's own user id (2088…): it acts for itself without a token
    app_auth_tokens: Mapping[str, str] = field(default_factory=dict)  # merchant → app_auth_token
    reserve_merchant: str = ""  # whose account transfers are paid from ("" = the app owner's)
    timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if self.sign_type != "RSA2":  # RSA (SHA-1) is the retired scheme
            raise InvalidRequest(f"支付宝只用 RSA2 / Alipay signing is RSA2: {self.sign_type}")

    @classmethod
    def from_credentials(cls, path: Path) -> AlipayConfig:
        return cls.from_mapping(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_mapping(
        cls, creds: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> AlipayConfig:
        """Each secret is ``<name>_file`` (a path) or ``<name>_env`` (a variable's name):
        ``app_private_key``, ``alipay_public_key`` and, optionally, ``app_auth_tokens`` (a JSON
        object of merchant → token). Keys may be PEM or the bare base64 Alipay's tool prints."""
        env = os.environ if env is None else env
        tokens = wire.secret(creds, "app_auth_tokens", env, required=False)
        return cls(
            app_id=str(creds["app_id"]),
            private_key=wire.pem(wire.secret(creds, "app_private_key", env), private=True),
            alipay_public_key=wire.pem(wire.secret(creds, "alipay_public_key", env), private=False),
            gateway_url=str(creds.get("gateway_url") or GATEWAY_URL),
            notify_url=str(creds.get("notify_url") or ""),
            sign_type=str(creds.get("sign_type") or "RSA2"),
            pid=str(creds.get("pid") or ""),
            app_auth_tokens={str(k): str(v) for k, v in json.loads(tokens or "{}").items()},
            reserve_merchant=str(creds.get("reserve_merchant") or ""),
            timeout_s=float(creds.get("timeout_s") or 15.0),
        )


_NO_PERSONS = (
    "支付宝适配器暂不支持向个人付款 / the Alipay adapter does not pay persons yet "
    "(referral payouts run on WeChat Pay's 商家转账: docs/referrals.md)"
)


class AlipayProvider:
    """A ``Provider`` for one Alipay app; each call names the merchant it acts for."""

    name = "alipay"

    def __init__(self, config: AlipayConfig, now: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self._now = now or (lambda: datetime.now(UTC))
        self._client = wire.AlipayClient(
            app_id=config.app_id,
            private_key=config.private_key,
            public_key=config.alipay_public_key,
            gateway=config.gateway_url,
            timeout_s=config.timeout_s,
        )

    # -- the wire -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        biz: Mapping[str, Any],
        read: Callable[[Mapping[str, Any]], T],
        merchant: str = "",
        notify_url: str = "",
    ) -> T:
        """One API call for ``merchant``: its answer, read by ``read``, or a payment error."""
        common = {"timestamp": wire.china_timestamp(self._now())}
        token = self._token(merchant)
        if token:
            common["app_auth_token"] = token
        if notify_url:
            common["notify_url"] = notify_url
        answer = self._client.server_api(method, dict(biz), **common)
        try:
            return read(answer)
        except (KeyError, ValueError, TypeError) as exc:
            raise ProviderRefused(
                f"支付宝应答无法读取 / Alipay's answer to {method} cannot be read: {exc}",
                provider_code="BAD_ANSWER",
            ) from exc

    def _token(self, merchant: str) -> str | None:
        if merchant in self.config.app_auth_tokens:
            return self.config.app_auth_tokens[merchant]
        if merchant in ("", self.config.pid):
            return None
        raise MerchantNotAuthorized(
            f"商户未授权本应用 / merchant {merchant} has not authorized the app (no app_auth_token)"
        )

    # -- payments -------------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> PaymentCreated:
        biz: dict[str, Any] = {
            "out_trade_no": request.out_trade_no,
            "total_amount": wire.yuan(request.amount_fen),
            "subject": request.description[:256],
        }
        if request.attach:  # Alipay wants it URL-encoded, and hands it back as sent
            biz["passback_params"] = quote(request.attach, safe="")
        if request.method is PaymentMethod.JSAPI:
            payer = request.payer_openid or ""
            biz["product_code"] = "JSAPI_PAY"
            biz["buyer_id" if wire.account_type(payer) == "userId" else "buyer_open_id"] = payer
            method = "alipay.trade.create"
        else:
            biz["product_code"] = "FACE_TO_FACE_PAYMENT"
            method = "alipay.trade.precreate"
        notify_url = request.notify_url or self.config.notify_url
        return self._call(method, biz, payment_created, request.merchant, notify_url)

    def query_payment(self, out_trade_no: str, merchant: str) -> PaymentState:
        biz = {"out_trade_no": out_trade_no}
        return self._call("alipay.trade.query", biz, payment_state, merchant)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Alipay's asynchronous notify: a form whose ``sign`` (RSA2) covers its other fields."""
        return notification(self._client, self.config.app_id, body)

    # -- receivers and splits -------------------------------------------------------------------

    def add_receiver(self, receiver: Receiver, merchant: str) -> None:
        entry = {"type": wire.account_type(receiver.account), "account": receiver.account}
        if receiver.name:
            entry["name"] = receiver.name
        entry["memo"] = receiver.relation
        self._relation("alipay.trade.royalty.relation.bind", entry, merchant)

    def remove_receiver(self, receiver: Receiver, merchant: str) -> None:
        entry = {"type": wire.account_type(receiver.account), "account": receiver.account}
        self._relation("alipay.trade.royalty.relation.unbind", entry, merchant)

    def _relation(self, method: str, entry: Mapping[str, str], merchant: str) -> None:
        # A fresh request number each time: binding is idempotent at Alipay, and a number reused
        # after an unbind would replay the old bind instead of binding again.
        biz = {"out_request_no": uuid.uuid4().hex, "receiver_list": [dict(entry)]}
        self._call(method, biz, _relation_done, merchant)

    def split(self, request: SplitRequest) -> SplitResult:
        count = len(request.receivers)
        if count > MAX_RECEIVERS:
            raise PlanTooManyReceivers(
                f"一次分账最多 {MAX_RECEIVERS} 方 / at most {MAX_RECEIVERS} receivers: {count}"
            )
        mode = "sync" if count <= MAX_SYNC_RECEIVERS else "async"
        biz: dict[str, Any] = {
            "out_request_no": request.out_order_no,
            "trade_no": request.transaction_id,
            "royalty_parameters": [
                {
                    "royalty_type": "transfer",
                    "trans_in_type": wire.account_type(r.receiver.account),
                    "trans_in": r.receiver.account,
                    "amount": wire.yuan(r.fen),
                    "desc": r.description[:80] or "分账",
                }
                for r in request.receivers
            ],
            "royalty_mode": mode,
        }
        if request.unfreeze_unsplit:
            biz["extend_params"] = {"royalty_finish": "true"}
        return self._call(
            "alipay.trade.order.settle",
            biz,
            lambda answer: settle_result(answer, request, mode),
            request.merchant,
        )

    def query_split(self, transaction_id: str, out_order_no: str, merchant: str) -> SplitResult:
        biz = {"out_request_no": out_order_no, "trade_no": transaction_id}
        return self._call(
            "alipay.trade.order.settle.query",
            biz,
            lambda answer: settle_query_result(answer, out_order_no),
            merchant,
        )

    def return_split(self, request: ReturnRequest) -> ReturnResult:
        raise NotOffered(_NO_RETURN)

    def query_return(self, out_order_no: str, out_return_no: str, merchant: str) -> ReturnResult:
        raise NotOffered(_NO_RETURN)

    def unfreeze(
        self, transaction_id: str, out_order_no: str, description: str, merchant: str
    ) -> SplitResult:
        """A settle with no receivers that finishes the trade's splitting (royalty_finish): the
        rest stays the merchant's. Alipay's settle has no description field."""
        request = SplitRequest(merchant, transaction_id, out_order_no, (), unfreeze_unsplit=True)
        biz = {
            "out_request_no": out_order_no,
            "trade_no": transaction_id,
            "royalty_parameters": [],
            "royalty_mode": "sync",
            "extend_params": {"royalty_finish": "true"},
        }
        return self._call(
            "alipay.trade.order.settle",
            biz,
            lambda answer: settle_result(answer, request, "sync"),
            merchant,
        )

    def unsplit_fen(self, transaction_id: str, merchant: str = "") -> int:
        return self._call(
            "alipay.trade.order.onsettle.query",
            {"trade_no": transaction_id},
            lambda answer: wire.fen_of(answer["unsettled_amount"]),
            merchant,
        )

    # -- refunds, payouts, bills ----------------------------------------------------------------

    def refund(self, request: RefundRequest) -> RefundResult:
        """One refund; the split money it takes back from receivers rides on it
        (``split_returns`` → ``refund_royalty_parameters``). ``total_fen`` is not sent."""
        biz: dict[str, Any] = {
            "trade_no": request.transaction_id,
            "refund_amount": wire.yuan(request.refund_fen),
            "out_request_no": request.out_refund_no,
            "refund_reason": request.reason[:256],
        }
        if request.split_returns:
            biz["refund_royalty_parameters"] = [
                {
                    "royalty_type": "transfer",
                    "trans_out_type": wire.account_type(back.account),
                    "trans_out": back.account,
                    "amount": wire.yuan(back.fen),
                    "desc": back.description[:80] or "退分账",
                }
                for back in request.split_returns
            ]
        return self._call(
            "alipay.trade.refund",
            biz,
            lambda answer: RefundResult(
                request.out_refund_no,
                str(answer.get("trade_no", "")),
                "SUCCESS" if answer.get("fund_change") == "Y" else "PROCESSING",
            ),
            request.merchant,
        )

    def query_refund(
        self, out_refund_no: str, merchant: str, transaction_id: str = ""
    ) -> RefundResult:
        if not transaction_id:
            raise InvalidRequest(
                "支付宝按交易查询退款 / Alipay finds a refund within its trade: give transaction_id"
            )
        biz = {"trade_no": transaction_id, "out_request_no": out_refund_no}
        return self._call(
            "alipay.trade.fastpay.refund.query",
            biz,
            lambda answer: RefundResult(out_refund_no, transaction_id, refund_status(answer)),
            merchant,
        )

    def transfer(self, request: TransferRequest) -> TransferResult:
        biz = {
            "out_biz_no": request.out_transfer_no,
            "trans_amount": wire.yuan(request.fen),
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
            "order_title": request.remark[:128] or "积分兑付结算",
            "payee_info": {
                "identity": request.to_account,
                "identity_type": _IDENTITY[wire.account_type(request.to_account)],
            },
        }
        return self._call(
            "alipay.fund.trans.uni.transfer",
            biz,
            lambda answer: transfer_result(answer, request.out_transfer_no),
            self.config.reserve_merchant,
        )

    def transfer_to_persons(self, batch: PersonTransferBatch) -> PersonTransferResult:
        raise NotOffered(_NO_PERSONS)

    def query_person_transfers(self, out_batch_no: str) -> PersonTransferResult:
        raise NotOffered(_NO_PERSONS)

    def query_transfer(self, out_transfer_no: str) -> TransferResult:
        biz = {
            "out_biz_no": out_transfer_no,
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
        }
        return self._call(
            "alipay.fund.trans.common.query",
            biz,
            lambda answer: transfer_result(answer, out_transfer_no),
            self.config.reserve_merchant,
        )

    def bill(self, kind: BillKind, bill_date: date, merchant: str = "") -> Bill:
        """The trade bill (a zip of GBK CSV files, as Alipay serves it). Alipay announces no
        digest, so ``hash_type`` is ``NONE``; and it has no split bill."""
        if kind is not BillKind.TRADE:
            raise NotOffered("支付宝没有分账账单 / Alipay has no split bill: use the trade bill")
        url = self._call(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": bill_date.isoformat()},
            lambda answer: str(answer["bill_download_url"]),
            merchant,
        )
        content = wire.fetch(url, self.config.timeout_s)
        return Bill(kind, bill_date, "NONE", "", content)


def _relation_done(answer: Mapping[str, Any]) -> None:
    if answer.get("result_code", "SUCCESS") != "SUCCESS":
        raise ValueError(f"result_code {answer.get('result_code')}")


__all__ = ["GATEWAY_URL", "MAX_SYNC_RECEIVERS", "AlipayConfig", "AlipayProvider"]
