"""payments.md §7, rules 12–21, over HTTP against the sandbox provider: unfreezing and the freeze
window, returns, refunds, the fund-movement guard against 二清, bills and the exact paths."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jifen.sandbox import MOVEMENT_SHAPES
from sandbox_kit import OPERATOR, RESERVE, SHOP_A, SHOP_B, SP, Kit, sandbox

APPID = "wx0000000000000001"
DAY_S = 86_400


@pytest.fixture
def kit(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    with sandbox(tmp_path, tmp_path_factory) as k:
        yield k


def _wire_error(response: Any, status: int, code: str, words: str = "") -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.json()["code"] == code, response.text
    assert words in response.json()["message"], response.text


def _settled(kit: Kit, total_fen: int = 10_000, number: str = "T00001", payer: str = SHOP_A) -> str:
    for account in (OPERATOR, RESERVE):
        kit.ok(kit.add_receiver(account, payer=payer))
    transaction_id = kit.paid(number, total_fen, payer=payer)
    kit.advance(60)
    return transaction_id


def _unsplit(kit: Kit, transaction_id: str) -> int:
    amounts = kit.ok(kit.wechat(SP).get(f"/v3/profitsharing/transactions/{transaction_id}/amounts"))
    unsplit: int = amounts["unsplit_amount"]
    return unsplit


def _return(kit: Kit, out_order_no: str, out_return_no: str, mchid: str, fen: int) -> Any:
    body = {
        "sub_mchid": SHOP_A,
        "out_order_no": out_order_no,
        "out_return_no": out_return_no,
        "return_mchid": mchid,
        "amount": fen,
        "description": "用户退款",
    }
    return kit.wechat(SP).post("/v3/profitsharing/return-orders", body)


def _refund(kit: Kit, transaction_id: str, number: str, fen: int, total: int = 10_000) -> Any:
    body = {
        "sub_mchid": SHOP_A,
        "transaction_id": transaction_id,
        "out_refund_no": number,
        "amount": {"refund": fen, "total": total, "currency": "CNY"},
    }
    return kit.wechat(SP).post("/v3/refund/domestic/refunds", body)


def _direct_merchant(kit: Kit) -> str:
    created = kit.ok(
        kit.control.post(
            "/sandbox/merchants",
            json={"name": "直连测试商贸有限公司", "kind": "direct", "role": "merchant"},
        )
    )
    kit.credentials["merchants"].append(created)
    mchid: str = created["mchid"]
    client = kit.wechat(mchid)
    add = {
        "appid": APPID,
        "type": "MERCHANT_ID",
        "account": OPERATOR,
        "relation_type": "PARTNER",
        "name": client.encrypt("积分联盟运营管理有限公司"),
    }
    kit.ok(
        client.post(
            "/v3/profitsharing/receivers/add", add, **{"Wechatpay-Serial": client.public_key_id}
        )
    )
    return mchid


def test_rule_12_after_unfreeze_or_finish_nothing_is_left_to_split(kit: Kit) -> None:
    first = _settled(kit)
    kit.ok(kit.split(first, "S1", [(OPERATOR, 100)], unfreeze_unsplit=True))
    assert _unsplit(kit, first) == 0
    _wire_error(kit.split(first, "S2", [(OPERATOR, 1)]), 403, "NOT_ENOUGH")
    kit.advance(60)
    assert kit.balances()[f"{SHOP_A}:AVAILABLE"] == 10_000 - 60 - 100
    second = kit.paid("T00002", 10_000)
    kit.advance(60)
    unfreeze = {
        "sub_mchid": SHOP_A,
        "transaction_id": second,
        "out_order_no": "U1",
        "description": "解冻全部剩余资金",
    }
    released = kit.ok(kit.wechat(SP).post("/v3/profitsharing/orders/unfreeze", unfreeze))
    assert released["receivers"][0]["amount"] == 9_940
    assert released["receivers"][0]["account"] == SHOP_A
    assert _unsplit(kit, second) == 0
    _wire_error(kit.split(second, "S3", [(OPERATOR, 1)]), 403, "NOT_ENOUGH")
    third = kit.paid("T00003", 10_000)
    kit.advance(60)
    sp = kit.wechat(SP)
    kit.ok(
        sp.post(
            "/v3/ecommerce/profitsharing/receivers/add",
            {
                "appid": APPID,
                "type": "MERCHANT_ID",
                "account": RESERVE,
                "name": sp.encrypt("积分联盟积分备付金存管账户"),
                "relation_type": "PARTNER",
            },
            **{"Wechatpay-Serial": sp.public_key_id},
        )
    )
    finish = {
        "sub_mchid": SHOP_A,
        "transaction_id": third,
        "out_order_no": "E1",
        "finish": True,
        "receivers": [
            {
                "type": "MERCHANT_ID",
                "receiver_account": RESERVE,
                "amount": 300,
                "description": "备付金",
            }
        ],
    }
    kit.ok(sp.post("/v3/ecommerce/profitsharing/orders", finish))
    assert _unsplit(kit, third) == 0
    _wire_error(kit.split(third, "S4", [(OPERATOR, 1)]), 403, "NOT_ENOUGH")


def test_rule_13_the_freeze_window_ends_in_a_system_unfreeze_on_the_bill(kit: Kit) -> None:
    direct = _direct_merchant(kit)
    client = kit.wechat(direct)
    order = {
        "appid": APPID,
        "mchid": direct,
        "description": "直连",
        "out_trade_no": "D00001",
        "notify_url": "http://127.0.0.1:9/n",
        "amount": {"total": 10_000},
        "payer": {"openid": "oCustomer0002"},
        "settle_info": {"profit_sharing": True},
    }
    kit.ok(client.post("/v3/pay/transactions/jsapi", order))
    kit.ok(kit.control.post("/sandbox/pay", json={"out_trade_no": "D00001"}))
    direct_txn = kit.ok(client.get(f"/v3/pay/transactions/out-trade-no/D00001?mchid={direct}"))[
        "transaction_id"
    ]
    partner_txn = _settled(kit, number="T00002")
    split = {
        "transaction_id": direct_txn,
        "out_order_no": "S1",
        "unfreeze_unsplit": False,
        "receivers": [
            {"type": "MERCHANT_ID", "account": OPERATOR, "amount": 100, "description": "服务费"}
        ],
    }
    kit.ok(client.post("/v3/profitsharing/orders", split))
    kit.advance(30 * DAY_S - 61)  # the direct merchant's 30 days end at T0 + 30 d
    amounts = f"/v3/profitsharing/transactions/{direct_txn}/amounts"
    assert kit.ok(client.get(amounts))["unsplit_amount"] == 9_840
    kit.advance(1)
    assert kit.ok(client.get(amounts))["unsplit_amount"] == 0
    split |= {"out_order_no": "S2"}
    _wire_error(client.post("/v3/profitsharing/orders", split), 403, "NOT_ENOUGH")
    assert _unsplit(kit, partner_txn) == 9_940  # a service provider's window is 180 days
    kit.advance(DAY_S)  # the bill of the unfreeze day is ready the next morning
    bill = kit.ok(client.get("/v3/profitsharing/bills?bill_date=2026-04-01"))
    *rows, _ = _rows(client.get(bill["download_url"].removeprefix(kit.base_url)).content)
    [unfreeze] = [r for r in rows if r["业务类型"] == "解冻"]
    assert unfreeze["发起方"] == "SYSTEM" and unfreeze["分账金额(元)"] == "98.40"
    assert unfreeze["微信订单号"] == direct_txn
    kit.advance(150 * DAY_S)
    assert _unsplit(kit, partner_txn) == 0
    _wire_error(kit.split(partner_txn, "S3", [(OPERATOR, 1)]), 403, "NOT_ENOUGH")


def test_rule_14_only_a_successful_merchant_receiver_of_that_split_can_return(kit: Kit) -> None:
    transaction_id = _settled(kit)
    sp = kit.wechat(SP)
    kit.ok(kit.add_receiver("oPerson0001", type="PERSONAL_OPENID", relation_type="USER"))
    kit.faults(closed_receivers={RESERVE: "NO_AUTH"})
    split = {
        "sub_mchid": SHOP_A,
        "appid": APPID,
        "transaction_id": transaction_id,
        "out_order_no": "S1",
        "unfreeze_unsplit": False,
        "receivers": [
            {
                "type": "PERSONAL_OPENID",
                "account": "oPerson0001",
                "amount": 100,
                "description": "个人",
            },
            {"type": "MERCHANT_ID", "account": OPERATOR, "amount": 100, "description": "服务费"},
            {"type": "MERCHANT_ID", "account": RESERVE, "amount": 100, "description": "备付金"},
        ],
    }
    kit.ok(sp.post("/v3/profitsharing/orders", split))
    _wire_error(_return(kit, "S1", "B1", OPERATOR, 100), 400, "INVALID_REQUEST")  # still pending
    kit.advance(60)
    _wire_error(_return(kit, "S1", "B2", "oPerson0001", 100), 400, "INVALID_REQUEST", "MERCHANT_ID")
    _wire_error(_return(kit, "S1", "B3", SHOP_B, 100), 400, "INVALID_REQUEST", "did not receive")
    _wire_error(_return(kit, "S1", "B4", RESERVE, 100), 400, "INVALID_REQUEST", "did not receive")
    assert kit.ok(_return(kit, "S1", "B5", OPERATOR, 100))["result"] == "SUCCESS"


def test_rule_15_returns_are_bounded_by_the_amount_split_and_180_days(kit: Kit) -> None:
    transaction_id = _settled(kit)
    kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 1_000)]))
    kit.ok(kit.split(transaction_id, "S2", [(OPERATOR, 500)]))
    kit.advance(60)
    assert kit.ok(_return(kit, "S1", "B1", OPERATOR, 600))["result"] == "SUCCESS"
    _wire_error(_return(kit, "S1", "B2", OPERATOR, 401), 400, "INVALID_REQUEST", "exceed")
    assert kit.ok(_return(kit, "S1", "B2", OPERATOR, 400))["result"] == "SUCCESS"
    assert kit.balances()[f"{SHOP_A}:AVAILABLE"] == 1_000
    kit.advance(180 * DAY_S)  # exactly 180 days after S2 succeeded: still open
    assert kit.ok(_return(kit, "S2", "B3", OPERATOR, 1))["result"] == "SUCCESS"
    kit.advance(1)
    _wire_error(_return(kit, "S2", "B4", OPERATOR, 1), 400, "INVALID_REQUEST", "180")


def test_rule_16_a_short_return_is_processing_then_times_out_and_replays(kit: Kit) -> None:
    transaction_id = _settled(kit)
    kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 300), (RESERVE, 200)]))
    kit.advance(60)
    kit.faults(return_balance_short=[OPERATOR])
    pending = kit.ok(_return(kit, "S1", "B1", OPERATOR, 300))
    assert pending["result"] == "PROCESSING"
    query = f"/v3/profitsharing/return-orders/B1?&out_order_no=S1&sub_mchid={SHOP_A}"
    kit.advance(5 * DAY_S - 1)
    assert kit.ok(kit.wechat(SP).get(query))["result"] == "PROCESSING"
    kit.advance(1)
    closed = kit.ok(kit.wechat(SP).get(query))
    assert (closed["result"], closed["fail_reason"]) == ("FAILED", "TIME_OUT_CLOSED")
    kit.faults()
    replay = kit.ok(_return(kit, "S1", "B1", OPERATOR, 300))
    assert replay["return_id"] == pending["return_id"] and replay["result"] == "FAILED"
    assert kit.ok(_return(kit, "S1", "B2", OPERATOR, 300))["result"] == "SUCCESS"
    payout = {
        "payer_mchid": RESERVE,
        "out_payout_no": "P1",
        "payee_mchid": SHOP_B,
        "amount": 150,
        "description": "积分兑付",
    }
    kit.ok(kit.wechat(SP).post("/depository/v1/payouts", payout))  # the reserve keeps 50 fen
    assert kit.ok(_return(kit, "S1", "B3", RESERVE, 200))["result"] == "PROCESSING"
    kit.ok(kit.control.post(f"/sandbox/merchants/{RESERVE}/top-up", json={"amount": 150}))
    kit.advance(3_600)  # the next retry finds the money
    query = f"/v3/profitsharing/return-orders/B3?&out_order_no=S1&sub_mchid={SHOP_A}"
    assert kit.ok(kit.wechat(SP).get(query))["result"] == "SUCCESS"


def test_rule_17_a_refund_is_paid_by_the_payer_never_taken_from_a_receiver(kit: Kit) -> None:
    transaction_id = _settled(kit)
    kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 3_000)]))
    kit.advance(60)  # frozen remainder 6,940; the payer's available balance 0
    _wire_error(_refund(kit, transaction_id, "R1", 6_941), 403, "NOT_ENOUGH")
    kit.ok(_refund(kit, transaction_id, "R1", 6_940))
    assert kit.balances()[f"{OPERATOR}:AVAILABLE"] == 3_000  # untouched by the refund
    _wire_error(_refund(kit, transaction_id, "R2", 3_000), 403, "NOT_ENOUGH")
    assert kit.ok(_return(kit, "S1", "B1", OPERATOR, 3_000))["result"] == "SUCCESS"
    kit.ok(_refund(kit, transaction_id, "R2", 3_000))
    _wire_error(_refund(kit, transaction_id, "R3", 60), 403, "NOT_ENOUGH")  # the fee is kept
    kit.ok(kit.control.post(f"/sandbox/merchants/{SHOP_A}/top-up", json={"amount": 60}))
    kit.ok(_refund(kit, transaction_id, "R3", 60))
    customer = kit.balances()["person:oCustomer0001"]
    assert customer == 0 and kit.balances()[f"{OPERATOR}:AVAILABLE"] == 0


def test_rule_18_refunds_never_exceed_the_total_and_replays_refund_once(kit: Kit) -> None:
    transaction_id = kit.paid("T00001", 10_000, split=False)
    first = kit.ok(_refund(kit, transaction_id, "R1", 6_000))
    again = kit.ok(_refund(kit, transaction_id, "R1", 6_000))
    assert again["refund_id"] == first["refund_id"] and first["status"] == "PROCESSING"
    refunds = [m for m in kit.ledger() if m["kind"] == "refund"]
    assert [m["amount_fen"] for m in refunds] == [6_000]
    kit.ok(kit.control.post(f"/sandbox/merchants/{SHOP_A}/top-up", json={"amount": 10_000}))
    _wire_error(_refund(kit, transaction_id, "R2", 4_001), 400, "INVALID_REQUEST")
    kit.ok(_refund(kit, transaction_id, "R2", 4_000))
    kit.advance(60)
    query = f"/v3/refund/domestic/refunds/R1?sub_mchid={SHOP_A}"
    assert kit.ok(kit.wechat(SP).get(query))["status"] == "SUCCESS"
    assert len(kit.notifications("REFUND.SUCCESS")) == 2


def test_rule_19_every_fund_movement_is_payer_receiver_customer_never_via_the_platform(
    kit: Kit,
) -> None:
    transaction_id = _settled(kit)
    kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 1_000), (RESERVE, 2_000)]))
    kit.advance(60)
    kit.ok(_return(kit, "S1", "B1", RESERVE, 500))
    kit.ok(_refund(kit, transaction_id, "R1", 1_000))
    batch = {
        "appid": APPID,
        "out_batch_no": "BATCH0001",
        "batch_name": "推荐奖励",
        "batch_remark": "三月",
        "total_amount": 300,
        "total_num": 1,
        "transfer_detail_list": [
            {
                "out_detail_no": "DETAIL0001",
                "transfer_amount": 300,
                "transfer_remark": "推荐奖励",
                "openid": "oPromoter01",
            }
        ],
    }
    kit.ok(kit.wechat(OPERATOR).post("/v3/transfer/batches", batch))
    payout = {
        "payer_mchid": RESERVE,
        "out_payout_no": "P1",
        "payee_mchid": SHOP_B,
        "amount": 1_000,
        "description": "积分兑付",
    }
    kit.ok(kit.wechat(SP).post("/depository/v1/payouts", payout))
    kit.advance(60)
    movements = kit.ledger()
    assert {m["kind"] for m in movements} >= {
        "payment",
        "fee",
        "split",
        "split_return",
        "refund",
        "mch_transfer",
        "depository_payout",
    }
    for m in movements:
        assert m["kind"] in MOVEMENT_SHAPES
        assert not m["from_account"].startswith(SP) and not m["to_account"].startswith(SP)
        if m["kind"] == "payment":
            assert m["to_account"].startswith(
                SHOP_A
            )  # only the merchant takes the customer's money
        owner = m["to_account"].split(":")[0]
        if owner in (OPERATOR, RESERVE) and not m["from_account"].startswith(owner):
            assert m["kind"] == "split"  # the platform's accounts are receivers, never holders
    assert sum(kit.balances().values()) == 0
    kit.ok(
        kit.control.post(
            "/sandbox/merchants", json={"name": "假门店", "role": "reserve", "mchid": "1900000199"}
        )
    )
    order = {
        "sp_appid": APPID,
        "sp_mchid": SP,
        "sub_mchid": "1900000199",
        "description": "x",
        "out_trade_no": "T00009",
        "notify_url": "http://127.0.0.1:9/n",
        "amount": {"total": 100},
        "payer": {"sp_openid": "o1"},
    }
    refused = kit.wechat(SP).post("/v3/pay/partner/transactions/jsapi", order)
    _wire_error(refused, 400, "INVALID_REQUEST", "二清")


def _rows(content: bytes) -> list[dict[str, str]]:
    lines = list(csv.reader(io.StringIO(content.decode())))
    header, details = lines[0], lines[1:-2]
    assert all(field.startswith("`") for row in [*details, lines[-1]] for field in row)
    rows = [dict(zip(header, [f[1:] for f in row], strict=True)) for row in details]
    summary = dict(zip(lines[-2], [f[1:] for f in lines[-1]], strict=True))
    return [*rows, {"__summary__": "1", **summary}]


def _fen(text: str) -> int:
    return int(Decimal(text) * 100)


def test_rule_20_bills_list_the_days_events_in_yuan_with_sums_and_a_sha1(kit: Kit) -> None:
    sp = kit.wechat(SP)
    first = _settled(kit)  # 2026-03-02 10:00 China
    kit.paid("T00002", 2_345, split=False)
    kit.ok(kit.split(first, "S1", [(OPERATOR, 100)]))
    kit.ok(_refund(kit, first, "R1", 1_000))
    kit.advance(23 * 3_600 - 60)  # 2026-03-03 09:00 China
    kit.paid("T00003", 999)  # the next day's: not on the bill of the 2nd
    url = f"/v3/bill/tradebill?bill_date=2026-03-02&bill_type=ALL&sub_mchid={SHOP_A}"
    _wire_error(sp.get(url), 400, "STATEMENT_CREATING")
    kit.advance(3_600)
    bill = kit.ok(sp.get(url + "&tar_type=GZIP"))
    assert bill["hash_type"] == "SHA1"
    content = gzip.decompress(sp.get(bill["download_url"].removeprefix(kit.base_url)).content)
    assert hashlib.sha1(content).hexdigest() == bill["hash_value"]
    *rows, summary = _rows(content)
    events = {(r["商户订单号"], r["交易状态"]): r for r in rows}
    assert sorted(events) == [("T00001", "REFUND"), ("T00001", "SUCCESS"), ("T00002", "SUCCESS")]
    assert len(rows) == 3 and [r["交易时间"] for r in rows] == sorted(r["交易时间"] for r in rows)
    paid, refunded = events["T00001", "SUCCESS"], events["T00001", "REFUND"]
    assert paid["应结订单金额"] == "100.00" and paid["手续费"] == "0.60"
    assert events["T00002", "SUCCESS"]["订单金额"] == "23.45" and refunded["退款金额"] == "10.00"
    for column, total in (
        ("应结订单金额", "应结订单总金额"),
        ("退款金额", "退款总金额"),
        ("手续费", "手续费总金额"),
        ("订单金额", "订单总金额"),
    ):
        assert sum(_fen(r[column]) for r in rows) == _fen(summary[total])
    assert summary["总交易单数"] == "3"
    kit.advance(301)
    _wire_error(sp.get(bill["download_url"].removeprefix(kit.base_url)), 400, "INVALID_REQUEST")
    split_bill = kit.ok(sp.get(f"/v3/profitsharing/bills?bill_date=2026-03-02&sub_mchid={SHOP_A}"))
    split_file = sp.get(split_bill["download_url"].removeprefix(kit.base_url)).content
    assert hashlib.sha1(split_file).hexdigest() == split_bill["hash_value"]
    *split_rows, split_summary = _rows(split_file)
    assert [(r["业务类型"], r["分账接收方账号"], r["分账金额(元)"]) for r in split_rows] == [
        ("分账", OPERATOR, "1.00")
    ]
    assert split_summary["分账总金额(元)"] == "1.00" and split_summary["分账笔数"] == "1"
    kit.advance(31)
    _wire_error(
        sp.get(split_bill["download_url"].removeprefix(kit.base_url)), 400, "INVALID_REQUEST"
    )
    _wire_error(sp.get("/v3/bill/tradebill?bill_date=2025-12-02"), 400, "INVALID_REQUEST", "三个月")
    _wire_error(sp.get("/v3/bill/tradebill?bill_date=2025-12-03"), 400, "NO_STATEMENT_EXIST")


SECTION_1_1_PATHS = [
    ("POST", "/v3/profitsharing/receivers/add"),
    ("POST", "/v3/ecommerce/profitsharing/receivers/add"),
    ("POST", "/v3/profitsharing/receivers/delete"),
    ("POST", "/v3/ecommerce/profitsharing/receivers/delete"),
    ("POST", "/v3/profitsharing/orders"),
    ("POST", "/v3/ecommerce/profitsharing/orders"),
    ("GET", "/v3/profitsharing/orders/S1?transaction_id=1"),
    ("GET", "/v3/ecommerce/profitsharing/orders?sub_mchid=1&transaction_id=1&out_order_no=S1"),
    ("POST", "/v3/profitsharing/return-orders"),
    ("POST", "/v3/ecommerce/profitsharing/returnorders"),
    ("GET", "/v3/profitsharing/return-orders/B1?&out_order_no=S1"),
    (
        "GET",
        "/v3/ecommerce/profitsharing/returnorders?sub_mchid=1&out_return_no=B1&out_order_no=S1",
    ),
    ("POST", "/v3/profitsharing/orders/unfreeze"),
    ("POST", "/v3/ecommerce/profitsharing/finish-order"),
    ("GET", "/v3/profitsharing/transactions/1/amounts"),
    ("GET", "/v3/ecommerce/profitsharing/orders/1/amounts"),
    ("GET", "/v3/profitsharing/merchant-configs/1"),
    ("GET", "/v3/profitsharing/bills?bill_date=2026-03-01&tar_type=GZIP"),
    ("POST", "/v3/refund/domestic/refunds"),
    ("POST", "/v3/ecommerce/refunds/apply"),
    ("GET", "/v3/bill/tradebill?bill_date=2026-03-01&bill_type=ALL&tar_type=GZIP"),
]


def test_rule_21_the_exact_paths_answer_with_the_documented_field_names(kit: Kit) -> None:
    for method, path in SECTION_1_1_PATHS:  # unsigned: a known path answers WeChat's 401
        response = kit.control.request(method, path)
        assert response.status_code == 401 and response.json()["code"] == "SIGN_ERROR", path
    transaction_id = _settled(kit)
    kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 100)]))
    kit.advance(60)
    kit.ok(_return(kit, "S1", "B1", OPERATOR, 100))
    sp = kit.wechat(SP)
    direct = kit.ok(
        sp.get(f"/v3/profitsharing/orders/S1?transaction_id={transaction_id}&sub_mchid={SHOP_A}")
    )
    assert direct["state"] == "FINISHED" and "status" not in direct
    assert set(direct["receivers"][0]) >= {
        "amount",
        "description",
        "type",
        "account",
        "result",
        "detail_id",
        "create_time",
        "finish_time",
    }
    returned = kit.ok(
        sp.get(f"/v3/profitsharing/return-orders/B1?&out_order_no=S1&sub_mchid={SHOP_A}")
    )
    assert returned["result"] == "SUCCESS" and returned["return_mchid"] == OPERATOR
    shop = f"sub_mchid={SHOP_A}"
    ecommerce = kit.ok(
        sp.get(
            f"/v3/ecommerce/profitsharing/orders?{shop}&transaction_id={transaction_id}&out_order_no=S1"
        )
    )
    assert ecommerce["status"] == "FINISHED" and "state" not in ecommerce
    assert ecommerce["receivers"][0]["receiver_account"] == OPERATOR
    assert ecommerce["receivers"][0]["receiver_mchid"] == OPERATOR
    same = kit.ok(
        sp.get(f"/v3/ecommerce/profitsharing/returnorders?{shop}&out_return_no=B1&out_order_no=S1")
    )
    assert same["return_id"] == returned["return_id"]
    ecommerce_return = {
        "sub_mchid": SHOP_A,
        "order_id": direct["order_id"],
        "out_return_no": "B2",
        "return_mchid": OPERATOR,
        "amount": 100,
        "description": "退款",
    }
    refused = sp.post("/v3/ecommerce/profitsharing/returnorders", ecommerce_return)
    _wire_error(refused, 400, "INVALID_REQUEST", "exceed")  # B1 already returned all 100 fen
    amounts = kit.ok(sp.get(f"/v3/ecommerce/profitsharing/orders/{transaction_id}/amounts"))
    assert amounts == {"transaction_id": transaction_id, "unsplit_amount": 9_840}
    finish = {
        "sub_mchid": SHOP_A,
        "transaction_id": transaction_id,
        "out_order_no": "F1",
        "description": "完结分账",
    }
    assert set(kit.ok(sp.post("/v3/ecommerce/profitsharing/finish-order", finish))) == {
        "sub_mchid",
        "transaction_id",
        "out_order_no",
        "order_id",
    }
    kit.advance(60)
    finished = kit.ok(
        sp.get(
            f"/v3/ecommerce/profitsharing/orders?{shop}&transaction_id={transaction_id}&out_order_no=F1"
        )
    )
    assert (finished["finish_amount"], finished["finish_description"]) == (9_840, "完结分账")
    refund = {
        "sub_mchid": SHOP_A,
        "sp_appid": APPID,
        "transaction_id": transaction_id,
        "out_refund_no": "R1",
        "amount": {"refund": 100, "total": 10_000, "currency": "CNY"},
    }
    applied = kit.ok(sp.post("/v3/ecommerce/refunds/apply", refund))
    queried = kit.ok(sp.get(f"/v3/ecommerce/refunds/out-refund-no/R1?{shop}"))
    assert applied["refund_id"] == queried["refund_id"]
