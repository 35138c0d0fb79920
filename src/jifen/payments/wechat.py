"""WeChat Pay API v3, as a ``Provider``: the service-provider (服务商) profit-sharing product, on
the ``wechatpayv3`` SDK.

Why the SDK: it is the maintained Python client of the v3 protocol (request signing, answer
verification, callback decryption, RSA-OAEP of receivers' names); this module only maps Jifen's
plain values onto its calls and its answers back. Three things the SDK leaves to its caller are
done here (payments.md §1.6): a 4xx does not raise in the SDK, so every answer's status is
checked and a refusal becomes ``ProviderRefused`` with WeChat's code; the SDK never checks an
answer's timestamp, so answers and callbacks older than five minutes are refused; and the SDK has
no base-URL argument, so the gateway (a sandbox in tests and the demo) is set on its core.

Why this module is long: one adapter answers the whole ``Provider`` protocol, and its answer
mappers sit beside it; split, it would scatter one wire's conventions over several files.

Public-key mode only (``public_key`` + ``public_key_id``): the client is built without a network
call. The reserve's payouts go through the depository bank's instruction API
(``/depository/v1/payouts``, docs/sandbox-provider.md), signed like every v3 request. Persons
(promoters' referral rewards) are paid by 商家转账 from the operator's own direct-merchant
account, signed with that account's key (``_wechat_transfers``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from wechatpayv3 import WeChatPay, WeChatPayType  # type: ignore[import-untyped]
from wechatpayv3.type import RequestType  # type: ignore[import-untyped]

from jifen.payments._wechat_transfers import (
    DirectAccount,
    direct_account,
    query_batch,
    send_batch,
)
from jifen.payments.errors import (
    NotificationRefused,
    NotOffered,
    ProviderRefused,
    ProviderUnavailable,
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
    SplitReceiverResult,
    SplitRequest,
    SplitResult,
    TransferRequest,
    TransferResult,
)

MAX_ANSWER_AGE_S = 300
"""An answer or callback signed more than five minutes ago (or ahead) is refused: a replay."""


@dataclass(frozen=True)
class WeChatPayConfig:
    """The service provider's credentials. Keys come from files or the environment, never from
    the database (docs/payments.md: configuring real credentials)."""

    mchid: str
    appid: str
    private_key: str  # PEM of the API client key
    cert_serial_no: str
    apiv3_key: str
    public_key: str  # PEM of WeChat Pay's public key
    public_key_id: str  # PUB_KEY_ID_…
    base_url: str = "https://api.mch.weixin.qq.com"
    reserve_mchid: str = ""  # the points reserve's receiver account
    fee_mchid: str = ""  # the operator's fee receiver account
    payer: DirectAccount | None = None  # the operator's own API identity: pays persons

    @classmethod
    def from_credentials(cls, path: Path) -> WeChatPayConfig:
        """A ``credentials.json`` as ``jifen sandbox-provider`` writes it (the same fields serve
        a real account: point the key files at the merchant's own)."""
        return cls.from_mapping(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_mapping(cls, creds: Mapping[str, Any]) -> WeChatPayConfig:
        roles = creds.get("roles", {})
        return cls(
            mchid=str(creds["mchid"]),
            appid=str(creds["appid"]),
            private_key=Path(creds["private_key_file"]).read_text(encoding="utf-8"),
            cert_serial_no=str(creds["cert_serial_no"]),
            apiv3_key=str(creds["apiv3_key"]),
            public_key=Path(creds["public_key_file"]).read_text(encoding="utf-8"),
            public_key_id=str(creds["public_key_id"]),
            base_url=str(creds.get("base_url") or cls.base_url),
            reserve_mchid=str((roles.get("reserve") or [""])[0]),
            fee_mchid=str((roles.get("operator") or [""])[0]),
            payer=direct_account(creds, str((roles.get("operator") or [""])[0])),
        )


def _timestamp(headers: Mapping[str, str]) -> str:
    """``Wechatpay-Timestamp`` however the web framework spelled the header: as sent, lower-cased
    (Starlette/FastAPI, which Jifen's notify route receives) or Django's ``HTTP_WECHATPAY_…``,
    the three spellings the SDK's own signature check accepts."""
    for key, value in headers.items():
        if key.lower().replace("_", "-").removeprefix("http-") == "wechatpay-timestamp":
            return value
    return ""


def _client(
    config: WeChatPayConfig,
    mchid: str,
    private_key: str,
    serial_no: str,
    appid: str,
    apiv3_key: str,
    *,
    partner_mode: bool,
) -> Any:
    """An SDK client for one API identity, on the configured gateway, refusing stale answers."""
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=mchid,
        private_key=private_key,
        cert_serial_no=serial_no,
        appid=appid,
        apiv3_key=apiv3_key,
        partner_mode=partner_mode,
        public_key=config.public_key,
        public_key_id=config.public_key_id,
        timeout=(5, 15),
    )
    core = pay._core
    core._gate_way = config.base_url.rstrip("/")
    verify = core._verify_signature

    def fresh_and_signed(headers: Mapping[str, str], body: Any) -> bool:
        try:
            signed_at = int(_timestamp(headers))
        except ValueError:
            return False
        return abs(time.time() - signed_at) <= MAX_ANSWER_AGE_S and bool(verify(headers, body))

    core._verify_signature = fresh_and_signed
    return pay


class WeChatPayProvider:
    """A ``Provider`` for one service-provider account; each call names its sub-merchant."""

    name = "wechatpay"

    def __init__(self, config: WeChatPayConfig) -> None:
        self.config = config
        self._pay = _client(config, config.mchid, config.private_key, config.cert_serial_no,
                            config.appid, config.apiv3_key, partner_mode=True)  # fmt: skip
        payer = config.payer
        self._payer = (
            None
            if payer is None
            else _client(
                config,
                payer.mchid,
                payer.private_key,
                payer.cert_serial_no,
                payer.appid,
                payer.apiv3_key,
                partner_mode=False,
            )
        )

    # -- the wire -------------------------------------------------------------------------------

    def _call(self, sdk_call: Any, *args: Any, **kwargs: Any) -> Any:
        """One SDK call: its JSON answer, or ``ProviderRefused`` / ``ProviderUnavailable``."""
        try:
            status, text = sdk_call(*args, **kwargs)
        except Exception as exc:  # the SDK raises bare Exception on transport and signature errors
            raise ProviderUnavailable(
                f"微信支付无应答或应答未通过验签 / WeChat Pay did not answer, or its answer "
                f"did not verify: {type(exc).__name__}"
            ) from exc
        if status >= 500:
            raise ProviderUnavailable(f"微信支付 {status} / WeChat Pay answered {status}")
        body = json.loads(text) if text else {}
        if status >= 400:
            raise ProviderRefused(
                f"微信支付拒绝 / WeChat Pay refused: {body.get('code')} {body.get('message')}",
                provider_code=body.get("code"),
                provider_status=status,
            )
        return body

    def _request(self, path: str, method: RequestType, data: Any = None) -> Any:
        return self._call(self._pay._core.request, path, method=method, data=data)

    # -- payments -------------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> PaymentCreated:
        payer = {"sp_openid": request.payer_openid} if request.payer_openid else None
        answer = self._call(
            self._pay.pay,
            description=request.description,
            out_trade_no=request.out_trade_no,
            amount={"total": request.amount_fen, "currency": "CNY"},
            payer=payer,
            attach=request.attach or None,
            settle_info={"profit_sharing": request.profit_sharing},
            notify_url=request.notify_url,
            sub_mchid=request.merchant,
            pay_type=WeChatPayType.JSAPI
            if request.method is PaymentMethod.JSAPI
            else WeChatPayType.NATIVE,
        )
        return PaymentCreated(request.out_trade_no, answer.get("prepay_id"), answer.get("code_url"))

    def query_payment(self, out_trade_no: str, merchant: str) -> PaymentState:
        answer = self._call(self._pay.query, out_trade_no=out_trade_no, sub_mchid=merchant)
        return _payment_state(answer)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        try:  # the SDK takes the header names as sent, lower-cased or Django's (see _timestamp)
            opened = self._pay.callback(dict(headers), body)
        except Exception as exc:
            raise NotificationRefused(
                "通知解密失败 / the notification cannot be decrypted"
            ) from exc
        if not opened or not isinstance(opened.get("resource"), dict):
            raise NotificationRefused(
                "通知验签失败或已过期 / the notification's signature does not verify or is stale"
            )
        return Notification(
            event_id=str(opened.get("id", "")),
            event_type=str(opened.get("event_type", "")),
            resource=opened["resource"],
            created_at=_time(opened.get("create_time")),
        )

    # -- receivers and splits -------------------------------------------------------------------

    def add_receiver(self, receiver: Receiver, merchant: str) -> None:
        self._call(
            self._pay.profitsharing_add_receiver,
            account_type=receiver.type.value,
            account=receiver.account,
            relation_type=receiver.relation,
            name=receiver.name,
            sub_mchid=merchant,
        )

    def remove_receiver(self, receiver: Receiver, merchant: str) -> None:
        self._call(
            self._pay.profitsharing_delete_receiver,
            account_type=receiver.type.value,
            account=receiver.account,
            sub_mchid=merchant,
        )

    def split(self, request: SplitRequest) -> SplitResult:
        receivers = [
            {
                "type": r.receiver.type.value,
                "account": r.receiver.account,
                "amount": r.fen,
                "description": r.description[:80] or "分账",
            }
            for r in request.receivers
        ]
        answer = self._call(
            self._pay.profitsharing_order,
            transaction_id=request.transaction_id,
            out_order_no=request.out_order_no,
            receivers=receivers,
            unfreeze_unsplit=request.unfreeze_unsplit,
            sub_mchid=request.merchant,
        )
        return _split_result(answer)

    def query_split(self, transaction_id: str, out_order_no: str, merchant: str) -> SplitResult:
        answer = self._call(
            self._pay.profitsharing_order_query, transaction_id, out_order_no, sub_mchid=merchant
        )
        return _split_result(answer)

    def return_split(self, request: ReturnRequest) -> ReturnResult:
        answer = self._call(
            self._pay.profitsharing_return,
            out_return_no=request.out_return_no,
            return_mchid=request.return_account,
            amount=request.fen,
            description=request.description[:80] or "分账回退",
            out_order_no=request.out_order_no,
            sub_mchid=request.merchant,
        )
        return _return_result(answer)

    def query_return(self, out_order_no: str, out_return_no: str, merchant: str) -> ReturnResult:
        answer = self._call(
            self._pay.profitsharing_return_query, out_order_no, out_return_no, sub_mchid=merchant
        )
        return _return_result(answer)

    def unfreeze(
        self, transaction_id: str, out_order_no: str, description: str, merchant: str
    ) -> SplitResult:
        answer = self._call(
            self._pay.profitsharing_unfreeze,
            transaction_id,
            out_order_no,
            description[:80] or "解冻剩余资金",
            sub_mchid=merchant,
        )
        return _split_result(answer)

    def unsplit_fen(self, transaction_id: str, merchant: str = "") -> int:
        answer = self._call(self._pay.profitsharing_amount_query, transaction_id)
        return int(answer["unsplit_amount"])

    # -- refunds, payouts, bills ----------------------------------------------------------------

    def refund(self, request: RefundRequest) -> RefundResult:
        if request.split_returns:  # WeChat returns splits before the refund, not inside it
            raise NotOffered("微信支付须先回退分账再退款 / WeChat Pay: return_split, then refund")
        answer = self._call(
            self._pay.refund,
            out_refund_no=request.out_refund_no,
            amount={"refund": request.refund_fen, "total": request.total_fen, "currency": "CNY"},
            transaction_id=request.transaction_id,
            reason=request.reason[:80] or None,
            notify_url=request.notify_url,
            sub_mchid=request.merchant,
        )
        return _refund_result(answer)

    def query_refund(
        self, out_refund_no: str, merchant: str, transaction_id: str = ""
    ) -> RefundResult:
        return _refund_result(self._call(self._pay.query_refund, out_refund_no, sub_mchid=merchant))

    def transfer(self, request: TransferRequest) -> TransferResult:
        answer = self._request(
            "/depository/v1/payouts",
            RequestType.POST,
            {
                "payer_mchid": self.config.reserve_mchid,
                "out_payout_no": request.out_transfer_no,
                "payee_mchid": request.to_account,
                "amount": request.fen,
                "description": request.remark[:80] or "积分兑付结算",
            },
        )
        return _transfer_result(answer)

    def query_transfer(self, out_transfer_no: str) -> TransferResult:
        path = f"/depository/v1/payouts/{out_transfer_no}?payer_mchid={self.config.reserve_mchid}"
        return _transfer_result(self._request(path, RequestType.GET))

    def transfer_to_persons(self, batch: PersonTransferBatch) -> PersonTransferResult:
        return send_batch(self._call, self._payer_client(), batch)

    def query_person_transfers(self, out_batch_no: str) -> PersonTransferResult:
        return query_batch(self._call, self._payer_client(), out_batch_no)

    def _payer_client(self) -> Any:
        if self._payer is None:
            raise NotOffered(
                "未配置运营方直连商户的API身份 / the operator's own API identity (its key file) "
                "is not in the credentials: persons cannot be paid"
            )
        return self._payer

    def bill(self, kind: BillKind, bill_date: date, merchant: str = "") -> Bill:
        day = bill_date.isoformat()
        if kind is BillKind.TRADE:
            answer = self._call(self._pay.trade_bill, day, bill_type="ALL")
        else:
            answer = self._call(self._pay.profitsharing_bill, day)
        try:
            status, content = self._pay.download_bill(answer["download_url"])
        except Exception as exc:
            raise ProviderUnavailable("账单下载失败 / the bill did not download") from exc
        if status != 200:
            raise ProviderUnavailable(f"账单下载 {status} / the bill download answered {status}")
        raw = content if isinstance(content, bytes) else str(content).encode()
        if raw[:2] == b"\x1f\x8b":  # tar_type=GZIP
            raw = gzip.decompress(raw)
        if hashlib.sha1(raw).hexdigest().lower() != str(answer["hash_value"]).lower():
            raise ProviderRefused(
                "账单哈希不符 / the bill's SHA1 is not the one the provider announced",
                provider_code="HASH_MISMATCH",
            )
        return Bill(kind, bill_date, str(answer["hash_type"]), str(answer["hash_value"]), raw)


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text)) if text else None


def _payment_state(answer: Mapping[str, Any]) -> PaymentState:
    return PaymentState(
        out_trade_no=str(answer["out_trade_no"]),
        transaction_id=answer.get("transaction_id"),
        state=str(answer.get("trade_state", "")),
        amount_fen=int((answer.get("amount") or {}).get("total", 0)),
        success_time=_time(answer.get("success_time")),
        attach=str(answer.get("attach") or ""),
    )


def _split_result(answer: Mapping[str, Any]) -> SplitResult:
    return SplitResult(
        out_order_no=str(answer["out_order_no"]),
        order_id=str(answer.get("order_id", "")),
        state=str(answer.get("state") or answer.get("status") or ""),
        receivers=tuple(
            SplitReceiverResult(
                account=str(r["account"]),
                fen=int(r["amount"]),
                result=str(r.get("result", "")),
                fail_reason=r.get("fail_reason"),
                detail_id=r.get("detail_id"),
                finished_at=_time(r.get("finish_time")),
            )
            for r in answer.get("receivers") or ()
        ),
    )


def _return_result(answer: Mapping[str, Any]) -> ReturnResult:
    result = str(answer.get("result", ""))
    return ReturnResult(
        out_return_no=str(answer["out_return_no"]),
        return_id=str(answer.get("return_id", "")),
        result="FAILED" if result == "FAIL" else result,  # the brand doc's spelling (payments.md)
        fail_reason=answer.get("fail_reason"),
        finished_at=_time(answer.get("finish_time")),
    )


def _refund_result(answer: Mapping[str, Any]) -> RefundResult:
    return RefundResult(
        out_refund_no=str(answer["out_refund_no"]),
        refund_id=str(answer.get("refund_id", "")),
        status=str(answer.get("status", "")),
    )


def _transfer_result(answer: Mapping[str, Any]) -> TransferResult:
    return TransferResult(
        out_transfer_no=str(answer.get("out_payout_no", "")),
        transfer_id=str(answer.get("payout_id", "")),
        state=str(answer.get("state", "")),
        fail_reason=answer.get("fail_reason"),
    )
