"""payments.md §7, rules 1–11, each driven over HTTP against the sandbox provider: signatures,
callbacks, and the rules a split request meets. Rules 12–21 are in test_sandbox_rules_after.py."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jifen.sandbox import decrypt_resource, verify_headers
from jifen.sandbox._wire import MAX_SKEW_S, check_timestamp
from jifen.sandbox.errors import WireRefusal
from sandbox_kit import OPERATOR, RESERVE, SHOP_A, SHOP_B, SP, Kit, Receiver, sandbox


@pytest.fixture
def kit(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    with sandbox(tmp_path, tmp_path_factory) as k:
        yield k


def _order(out_trade_no: str, total_fen: int = 100) -> dict[str, Any]:
    return {
        "sp_appid": "wx0000000000000001",
        "sp_mchid": SP,
        "sub_mchid": SHOP_A,
        "description": "测试",
        "out_trade_no": out_trade_no,
        "notify_url": "http://127.0.0.1:9/n",
        "amount": {"total": total_fen},
        "payer": {"sp_openid": "oCustomer0001"},
    }


def _wire_error(response: Any, status: int, code: str, words: str = "") -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["code"] == code, body
    assert words in body["message"], body


def _settled(kit: Kit, total_fen: int = 10_000, out_trade_no: str = "T00001") -> str:
    for account in (OPERATOR, RESERVE):
        kit.ok(kit.add_receiver(account))
    transaction_id = kit.paid(out_trade_no, total_fen)
    kit.advance(60)
    return transaction_id


def test_rule_01_a_bad_or_stale_signature_is_401_sign_error_and_changes_nothing(kit: Kit) -> None:
    sp = kit.wechat(SP)
    url, body = "/v3/pay/partner/transactions/jsapi", json.dumps(_order("T00001")).encode()
    good = sp.call("POST", url, _order("T00001"))
    forged = good.request.headers["Authorization"]  # replayed on another body: does not verify
    before = (kit.ledger(), kit.balances())
    attempts = [
        sp.request("POST", url, content=body),  # no Authorization at all
        sp.request(
            "POST",
            url,
            content=body.replace(b"T00001", b"T00002"),
            headers={"Authorization": forged},
        ),
    ]
    sp.skew_s = -(MAX_SKEW_S + 30)  # well outside, whatever the sub-second and transit time
    attempts.append(sp.call("POST", url, _order("T00003")))
    sp.skew_s = MAX_SKEW_S + 30
    attempts.append(sp.call("POST", url, _order("T00004")))
    for response in attempts:
        _wire_error(response, 401, "SIGN_ERROR")
    assert (kit.ledger(), kit.balances()) == before
    for number in ("T00002", "T00003", "T00004"):
        query = (
            f"/v3/pay/partner/transactions/out-trade-no/{number}?sp_mchid={SP}&sub_mchid={SHOP_A}"
        )
        sp.skew_s = 0
        _wire_error(sp.get(query), 404, "ORDER_NOT_EXIST")
    sp.skew_s = MAX_SKEW_S - 30  # inside the 300 s window
    kit.ok(sp.call("POST", url, _order("T00005")))


@pytest.mark.parametrize(
    ("offset_s", "accepted"),
    [(0, True), (300, True), (-300, True), (301, False), (-301, False)],
)
def test_rule_01_the_timestamp_window_is_300_s_either_way_exactly(
    offset_s: int, accepted: bool
) -> None:
    """The boundary, on a pinned clock (the HTTP test above keeps 30 s from it: a client signs
    whole seconds and the request takes time, so ±301 over the wire once landed inside)."""
    now = 1_800_000_000.0
    timestamp = str(int(now) + offset_s)
    if accepted:
        check_timestamp(timestamp, now)
    else:
        with pytest.raises(WireRefusal) as refused:
            check_timestamp(timestamp, now)
        assert (refused.value.status, refused.value.wire_code) == (401, "SIGN_ERROR")


def test_rule_02_every_2xx_answer_and_callback_is_signed_by_the_public_key(kit: Kit) -> None:
    sp = kit.wechat(SP)
    with Receiver() as receiver:
        order = _order("T00001") | {"notify_url": receiver.url}
        responses = [sp.post("/v3/pay/partner/transactions/jsapi", order)]
        query = f"/v3/pay/partner/transactions/out-trade-no/T00001?sp_mchid={SP}&sub_mchid={SHOP_A}"
        responses.append(sp.get(query))
        kit.ok(kit.control.post("/sandbox/pay", json={"out_trade_no": "T00001"}))
        kit.wait_for(lambda: receiver.received)
        close = _order("T00002") | {"notify_url": receiver.url}
        kit.ok(sp.post("/v3/pay/partner/transactions/jsapi", close))
        closing = "/v3/pay/partner/transactions/out-trade-no/T00002/close"
        responses.append(sp.post(closing, {"sp_mchid": SP, "sub_mchid": SHOP_A}))
        assert responses[-1].status_code == 204
        signed = [(dict(r.headers), r.content) for r in responses] + receiver.received
    assert kit.credentials["public_key_id"].startswith("PUB_KEY_ID_")
    for headers, body in signed:
        low = {k.lower(): v for k, v in headers.items()}
        assert low["wechatpay-serial"] == kit.credentials["public_key_id"]
        assert low["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"
        assert abs(int(low["wechatpay-timestamp"]) - time.time()) < 60 and low["wechatpay-nonce"]
        assert verify_headers(sp.platform, headers, body)
        assert not verify_headers(sp.platform, headers, body + b" ")


def test_rule_03_callbacks_are_aes_gcm_sealed_retried_on_non_2xx_and_duplicated(kit: Kit) -> None:
    apiv3_key = kit.credentials["apiv3_key"]
    with Receiver(statuses=[500]) as receiver:
        kit.paid("T00001", 100, notify_url=receiver.url)
        kit.wait_for(lambda: len(receiver.received) == 1)
        kit.advance(14)
        time.sleep(0.3)
        assert len(receiver.received) == 1  # the first retry is 15 s later, on the sandbox clock
        kit.advance(1)
        kit.wait_for(lambda: len(receiver.received) == 2)
        kit.faults(notify_duplicate=True)
        kit.paid("T00002", 100, notify_url=receiver.url)
        kit.wait_for(lambda: len(receiver.received) == 4)
    bodies = [json.loads(body) for _, body in receiver.received]
    assert bodies[0]["id"] == bodies[1]["id"] and bodies[2]["id"] == bodies[3]["id"]
    assert bodies[1]["id"] != bodies[2]["id"]
    resource = bodies[0]["resource"]
    assert resource["algorithm"] == "AEAD_AES_256_GCM" and len(resource["nonce"].encode()) == 12
    assert resource["associated_data"] == "transaction"
    plain = json.loads(decrypt_resource(apiv3_key, resource) or "null")
    assert plain["out_trade_no"] == "T00001" and plain["trade_state"] == "SUCCESS"
    assert decrypt_resource("x" * 32, resource) is None  # another key cannot open it
    assert len(base64.b64decode(resource["ciphertext"])) > 16  # ciphertext and its GCM tag
    [first] = kit.notifications("TRANSACTION.SUCCESS")[:1]
    assert [a["status_code"] for a in first["attempts"]] == [500, 200]


def test_rule_04_a_split_of_an_order_not_paid_for_splitting_is_400(kit: Kit) -> None:
    kit.ok(kit.add_receiver(OPERATOR))
    transaction_id = kit.paid("T00001", 10_000, split=False)
    kit.advance(60)
    _wire_error(
        kit.split(transaction_id, "S1", [(OPERATOR, 100)]), 400, "INVALID_REQUEST", "非分账订单"
    )


def test_rule_05_a_split_before_settlement_is_400_processing_and_works_later(kit: Kit) -> None:
    kit.ok(kit.add_receiver(OPERATOR))
    transaction_id = kit.paid("T00001", 10_000)
    kit.advance(59)
    _wire_error(
        kit.split(transaction_id, "S1", [(OPERATOR, 100)]), 400, "INVALID_REQUEST", "订单处理中"
    )
    kit.advance(1)
    assert kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 100)]))["state"] == "PROCESSING"
    kit.ok(kit.control.patch("/sandbox/settings", json={"settle_delay_s": 5}))
    other = kit.paid("T00002", 10_000)
    kit.advance(5)
    kit.ok(kit.split(other, "S2", [(OPERATOR, 100)]))


def test_rule_06_a_receiver_not_added_for_that_payer_is_400(kit: Kit) -> None:
    kit.ok(kit.add_receiver(OPERATOR, payer=SHOP_B))  # another payer's receiver does not count
    transaction_id = kit.paid("T00001", 10_000)
    kit.advance(60)
    refused = kit.split(transaction_id, "S1", [(OPERATOR, 100)])
    _wire_error(refused, 400, "INVALID_REQUEST", "分账接收方关系不存在")
    kit.ok(kit.add_receiver(OPERATOR))
    kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 100)]))
    sp = kit.wechat(SP)
    kit.ok(
        sp.post(
            "/v3/profitsharing/receivers/delete",
            {"sub_mchid": SHOP_A, "type": "MERCHANT_ID", "account": OPERATOR},
        )
    )
    _wire_error(
        kit.split(transaction_id, "S2", [(OPERATOR, 100)]), 400, "INVALID_REQUEST", "关系不存在"
    )


def test_rule_07_more_than_50_receivers_or_a_51st_split_request_is_400(kit: Kit) -> None:
    transaction_id = _settled(kit)
    many = [(f"19100{n:05d}", 1) for n in range(51)]
    _wire_error(kit.split(transaction_id, "S-many", many), 400, "INVALID_REQUEST", "50")
    for n in range(50):
        kit.ok(kit.split(transaction_id, f"S{n}", [(OPERATOR, 1)]))
    _wire_error(kit.split(transaction_id, "S50", [(OPERATOR, 1)]), 400, "INVALID_REQUEST", "50")


def test_rule_08_splits_to_others_are_capped_at_the_max_ratio_exactly(kit: Kit) -> None:
    transaction_id = _settled(kit, total_fen=10_001)  # ⌊10,001 × 30 %⌋ = 3,000
    kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 2_000)]))
    over = kit.split(transaction_id, "S2", [(OPERATOR, 500), (RESERVE, 501)])
    _wire_error(over, 400, "INVALID_REQUEST", "超出最大分账比例")
    kit.ok(kit.split(transaction_id, "S2", [(OPERATOR, 500), (RESERVE, 500)]))  # exactly the cap
    _wire_error(
        kit.split(transaction_id, "S3", [(RESERVE, 1)]), 400, "INVALID_REQUEST", "最大分账比例"
    )
    kit.ok(kit.control.patch(f"/sandbox/merchants/{SHOP_B}", json={"max_ratio_bp": 2_000}))
    config = kit.ok(kit.wechat(SP).get(f"/v3/profitsharing/merchant-configs/{SHOP_B}"))
    assert config == {"sub_mchid": SHOP_B, "max_ratio": 2_000}
    kit.ok(kit.add_receiver(OPERATOR, payer=SHOP_B))
    other = kit.paid("T00002", 10_000, payer=SHOP_B)
    kit.advance(60)
    _wire_error(kit.split(other, "S1", [(OPERATOR, 2_001)], payer=SHOP_B), 400, "INVALID_REQUEST")
    kit.ok(kit.split(other, "S1", [(OPERATOR, 2_000)], payer=SHOP_B))


def test_rule_09_more_than_the_unsplit_amount_is_403_not_enough(kit: Kit) -> None:
    kit.ok(kit.control.patch(f"/sandbox/merchants/{SHOP_A}", json={"max_ratio_bp": 10_000}))
    transaction_id = _settled(kit)  # 10,000 paid, fee 60 (0.60 %): 9,940 unsplit
    amounts = f"/v3/profitsharing/transactions/{transaction_id}/amounts"
    assert kit.ok(kit.wechat(SP).get(amounts))["unsplit_amount"] == 9_940
    refund = {
        "sub_mchid": SHOP_A,
        "transaction_id": transaction_id,
        "out_refund_no": "R1",
        "amount": {"refund": 5_000, "total": 10_000, "currency": "CNY"},
    }
    kit.ok(kit.wechat(SP).post("/v3/refund/domestic/refunds", refund))  # from the frozen funds
    assert kit.ok(kit.wechat(SP).get(amounts))["unsplit_amount"] == 4_940
    _wire_error(kit.split(transaction_id, "S1", [(OPERATOR, 4_941)]), 403, "NOT_ENOUGH")
    kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 4_940)]))
    assert kit.ok(kit.wechat(SP).get(amounts))["unsplit_amount"] == 0


def test_rule_10_a_split_is_processing_then_success_or_closed_back_to_the_payer(kit: Kit) -> None:
    transaction_id = _settled(kit)
    kit.faults(closed_receivers={RESERVE: "ACCOUNT_ABNORMAL"})
    accepted = kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 100), (RESERVE, 200)]))
    assert accepted["state"] == "PROCESSING"
    assert [r["result"] for r in accepted["receivers"]] == ["PENDING", "PENDING"]
    query = f"/v3/profitsharing/orders/S1?transaction_id={transaction_id}&sub_mchid={SHOP_A}"
    kit.advance(59)
    assert kit.ok(kit.wechat(SP).get(query))["state"] == "PROCESSING"
    kit.advance(1)
    done = kit.ok(kit.wechat(SP).get(query))
    assert done["state"] == "FINISHED"
    results = {r["account"]: (r["result"], r.get("fail_reason")) for r in done["receivers"]}
    assert results == {OPERATOR: ("SUCCESS", None), RESERVE: ("CLOSED", "ACCOUNT_ABNORMAL")}
    balances = kit.balances()
    assert balances[f"{OPERATOR}:AVAILABLE"] == 100
    assert balances.get(f"{RESERVE}:AVAILABLE", 0) == 0
    assert balances[f"{SHOP_A}:AVAILABLE"] == 200  # the closed receiver's amount came back
    assert balances[f"{SHOP_A}:SPLITTING"] == 0


def test_rule_11_replaying_an_out_order_no_returns_the_first_result_and_moves_nothing(
    kit: Kit,
) -> None:
    transaction_id = _settled(kit)
    first = kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 100)]))
    kit.advance(60)
    moved = len(kit.ledger())
    again = kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 100)]))
    changed = kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 999), (RESERVE, 1)]))
    assert again["order_id"] == changed["order_id"] == first["order_id"]
    assert again == changed and again["state"] == "FINISHED"
    assert [r["amount"] for r in changed["receivers"]] == [100]
    assert len(kit.ledger()) == moved
    assert kit.balances()[f"{OPERATOR}:AVAILABLE"] == 100
