"""The money path's HTTP face: the provider's callback is refused unless it verifies, and
changes nothing then; without a provider the payment routes say so; a provider-paid order is
not refunded through the cash-order route (that would claw points back and move no money)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api_server import OPERATOR_KEY, problem
from funds_kit import Money, member, money
from jifen.api import create_app
from jifen.funds import create_payment, get_payment


@pytest.fixture
def m(db_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Money]:
    with money(db_url, tmp_path, tmp_path_factory) as found:
        yield found


def _client(m: Money, *, with_funds: bool = True) -> httpx.Client:
    from fastapi.testclient import TestClient

    from jifen.alliance.merchants import add_operator_key

    add_operator_key(m.ctx, OPERATOR_KEY, m.ctx.clock.now())
    return TestClient(create_app(m.ctx, funds=m.funds if with_funds else None))


def test_a_callback_that_does_not_verify_is_refused_and_changes_nothing(m: Money) -> None:
    p = create_payment(m.ctx, m.funds, "cafe", order_ref="o-1", member_id=member(m.ctx),
                       amount_fen=5_000, description="午餐")  # fmt: skip
    m.kit.ok(m.kit.control.post("/sandbox/pay", json={"out_trade_no": p.out_trade_no}))
    headers, body = m.kit.wait_for(lambda: m.inbox.received and m.inbox.received[0])
    api = _client(m)
    forged = body.replace(b'"TRANSACTION.SUCCESS"', b'"REFUND.SUCCESS"')
    r = api.post("/v1/providers/wechatpay/notify", content=forged, headers=headers)
    problem(r, 401, "payment.notification_refused")
    r = api.post("/v1/providers/wechatpay/notify", content=body)  # unsigned
    problem(r, 401, "payment.notification_refused")
    assert get_payment(m.ctx, p.out_trade_no).state == "created"
    r = api.post("/v1/providers/wechatpay/notify", content=body, headers=headers)
    assert r.status_code == 204, r.text
    assert get_payment(m.ctx, p.out_trade_no).state == "paid"
    r = api.post("/v1/providers/wechatpay/notify", content=body, headers=headers)
    assert r.status_code == 204  # the provider's retry: applied once
    assert m.ctx.ledger.balance(get_payment(m.ctx, p.out_trade_no).member_id).pending == 50


def test_without_a_provider_the_payment_routes_say_so(m: Money) -> None:
    api = _client(m, with_funds=False)
    r = api.post(
        "/v1/providers/wechatpay/notify",
        content=b"{}",
        headers={"Content-Type": "application/json"},
    )
    problem(r, 409, "payment.not_configured")


def test_a_provider_paid_order_is_refunded_as_a_payment_not_as_cash(m: Money) -> None:
    p = create_payment(m.ctx, m.funds, "cafe", order_ref="o-2", member_id=member(m.ctx),
                       amount_fen=5_000, description="午餐")  # fmt: skip
    m.pay(p.out_trade_no)
    api = _client(m)
    key = m.keys["cafe"]
    r = api.post(
        "/v1/orders/o-2/refunds",
        json={"refund_ref": "r-1", "refund_fen": 1_000},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "refund-1"},
    )
    body = problem(r, 409, "payment.refund_through_provider")
    assert p.out_trade_no in body["detail"]
    r = api.post(
        f"/v1/payments/{p.out_trade_no}/refunds",
        json={"refund_ref": "r-1", "refund_fen": 1_000},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "refund-2"},
    )
    assert r.status_code == 202 and r.json()["state"] == "waiting", r.text
    r = api.get(f"/v1/payments/{p.out_trade_no}", headers={"Authorization": f"Bearer {key}"})
    assert r.json()["state"] == "paid" and len(r.json()["refunds"]) == 1
