"""The unmodified ``wechatpayv3`` SDK talks to the sandbox (payments.md §1.6): public-key mode, its
gateway pointed at the sandbox, every 2xx answer's signature verified by the SDK itself, and the
callbacks opened with ``wxpay.callback(headers, body)``."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from jifen.sandbox._crypto import new_private_key, public_pem
from sandbox_kit import OPERATOR, SHOP_A, Kit, Receiver, sandbox


@pytest.fixture
def kit(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    with sandbox(tmp_path, tmp_path_factory) as k:
        yield k


def _sdk(kit: Kit, notify_url: str, public_key: str | None = None) -> WeChatPay:
    """A WeChatPay client built from credentials.json alone, as an adapter would build it."""
    creds = kit.credentials
    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.JSAPI,
        mchid=creds["mchid"],
        private_key=Path(creds["private_key_file"]).read_text(),
        cert_serial_no=creds["cert_serial_no"],
        appid=creds["appid"],
        apiv3_key=creds["apiv3_key"],
        notify_url=notify_url,
        partner_mode=True,
        public_key=public_key or Path(creds["public_key_file"]).read_text(),
        public_key_id=creds["public_key_id"],
        timeout=(5, 30),
    )
    wxpay._core._gate_way = creds["base_url"]  # the SDK's only way to another host
    return wxpay


def _ok(result: tuple[int, Any]) -> dict[str, Any]:
    status, text = result
    assert 200 <= status < 300, (status, text)
    return json.loads(text) if text else {}


def test_the_unmodified_sdk_adds_pays_splits_returns_refunds_and_opens_callbacks(
    kit: Kit,
) -> None:
    with Receiver() as receiver:
        wxpay = _sdk(kit, receiver.url)
        _ok(
            wxpay.profitsharing_add_receiver(
                account_type="MERCHANT_ID",
                account=OPERATOR,
                relation_type="SERVICE_PROVIDER",
                name="积分联盟运营管理有限公司",
                sub_mchid=SHOP_A,
            )
        )
        created = _ok(
            wxpay.pay(
                description="午餐",
                out_trade_no="SDK0000001",
                amount={"total": 10_000},
                payer={"sp_openid": "oCustomer0001"},
                settle_info={"profit_sharing": True},
                sub_mchid=SHOP_A,
            )
        )
        assert created["prepay_id"].startswith("wx")
        kit.ok(kit.control.post("/sandbox/pay", json={"out_trade_no": "SDK0000001"}))
        headers, body = kit.wait_for(lambda: receiver.received)[0]
        paid = wxpay.callback(headers, body)
        assert paid is not None and paid["event_type"] == "TRANSACTION.SUCCESS"
        assert paid["resource"]["trade_state"] == "SUCCESS"
        assert paid["resource"]["amount"]["total"] == 10_000
        transaction_id = paid["resource"]["transaction_id"]
        queried = _ok(wxpay.query(out_trade_no="SDK0000001", sub_mchid=SHOP_A))
        assert queried["transaction_id"] == transaction_id
        kit.advance(60)
        split = _ok(
            wxpay.profitsharing_order(
                transaction_id=transaction_id,
                out_order_no="SDKS000001",
                unfreeze_unsplit=False,
                receivers=[
                    {
                        "type": "MERCHANT_ID",
                        "account": OPERATOR,
                        "amount": 300,
                        "description": "服务费",
                    }
                ],
                sub_mchid=SHOP_A,
            )
        )
        assert split["state"] == "PROCESSING"
        kit.advance(60)
        done = _ok(wxpay.profitsharing_order_query(transaction_id, "SDKS000001", sub_mchid=SHOP_A))
        assert done["state"] == "FINISHED" and done["receivers"][0]["result"] == "SUCCESS"
        amounts = _ok(wxpay.profitsharing_amount_query(transaction_id))
        assert amounts["unsplit_amount"] == 10_000 - 60 - 300
        assert _ok(wxpay.profitsharing_config_query(SHOP_A))["max_ratio"] == 3_000
        returned = _ok(
            wxpay.profitsharing_return(
                out_return_no="SDKB000001",
                return_mchid=OPERATOR,
                amount=300,
                description="用户退款",
                out_order_no="SDKS000001",
                sub_mchid=SHOP_A,
            )
        )
        assert returned["result"] == "SUCCESS"
        again = _ok(wxpay.profitsharing_return_query("SDKS000001", "SDKB000001", sub_mchid=SHOP_A))
        assert again["return_id"] == returned["return_id"]  # the SDK's `?&out_order_no=` quirk
        refund = _ok(
            wxpay.refund(
                out_refund_no="SDKR000001",
                transaction_id=transaction_id,
                amount={"refund": 9_940, "total": 10_000, "currency": "CNY"},
                sub_mchid=SHOP_A,
            )
        )
        assert refund["status"] == "PROCESSING"
        kit.advance(60)
        kit.wait_for(lambda: len(receiver.received) == 2)
        refunded = wxpay.callback(*receiver.received[1])
        assert refunded is not None and refunded["event_type"] == "REFUND.SUCCESS"
        assert refunded["resource"]["out_refund_no"] == "SDKR000001"
        status = _ok(wxpay.query_refund("SDKR000001", sub_mchid=SHOP_A))["status"]
        assert status == "SUCCESS"
        assert wxpay.callback(receiver.received[1][0], receiver.received[1][1] + b" ") is None
    assert kit.balances()["person:oCustomer0001"] == -60  # all but the fee came back


def test_the_sdk_refuses_answers_not_signed_by_the_key_it_trusts(kit: Kit) -> None:
    stranger = public_pem(new_private_key().public_key()).decode()
    wxpay = _sdk(kit, "http://127.0.0.1:9/n", public_key=stranger)
    with pytest.raises(Exception, match="failed to verify the signature"):
        wxpay.profitsharing_config_query(SHOP_A)


def test_the_sdk_downloads_a_bill_whose_sha1_matches(kit: Kit) -> None:
    wxpay = _sdk(kit, "http://127.0.0.1:9/n")
    kit.paid("T00001", 12_345, split=False)
    kit.advance(86_400)
    bill = _ok(wxpay.trade_bill("2026-03-02", sub_mchid=SHOP_A))
    status, content = wxpay.download_bill(bill["download_url"])
    assert status == 200 and isinstance(content, bytes)
    text = gzip.decompress(content)
    assert hashlib.sha1(text).hexdigest() == bill["hash_value"]
    assert "`123.45" in text.decode()
