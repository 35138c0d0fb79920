"""An alliance set up over real HTTP for tests: rules in force, merchants, members, and a way
to fire requests together (a barrier releases every thread at once, as a till's retries after a
timeout arrive)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import httpx

from api_server import KYC, ApiClient, Server

T = TypeVar("T")

RULES: dict[str, Any] = {
    "title_zh": "测试联盟积分规则",
    "notice_days": 30,
    "earn": {"points_per_yuan": 1},
    "pending": {"return_window_days": 7},
    "expiry": {"policy": "rolling", "months": 2},
    "redemption": {"min_points": 1, "max_order_share_bp": 5_000},
}


@dataclass
class Alliance:
    server: Server
    merchant_keys: dict[str, str] = field(default_factory=dict)

    def merchant(self, merchant_id: str) -> ApiClient:
        return self.server.client(self.merchant_keys[merchant_id])

    def enrol(self, phone: str, via: str | None = None) -> str:
        client = self.merchant(via) if via else self.server.operator()
        with client:
            r = client.post("/v1/members", json={"phone": phone, "consents": CONSENTS})
        assert r.status_code == 201, r.text
        return str(r.json()["member_id"])

    def member(self, member_id: str) -> ApiClient:
        with self.server.operator() as op:
            r = op.post(f"/v1/members/{member_id}/tokens")
        assert r.status_code == 201, r.text
        return self.server.client(r.json()["token"])

    def code(self, member_id: str) -> str:
        with self.member(member_id) as me:
            r = me.post("/v1/me/redemption-codes")
        assert r.status_code == 201, r.text
        return str(r.json()["code"])

    def order(self, merchant_id: str, order_ref: str, member_id: str, amount_fen: int) -> Any:
        with self.merchant(merchant_id) as m:
            r = m.post("/v1/orders", json=order_body(order_ref, member_id, amount_fen, self))
        assert r.status_code == 201, r.text
        return r.json()

    def release_all(self, days: int = 8) -> None:
        """Move the clock past the return window and close the days: points become available."""
        self.server.set_clock(self.server.clock.now() + timedelta(days=days))
        with self.server.operator() as op:
            r = op.post("/v1/jobs/run", json={})
        assert r.status_code == 200, r.text


CONSENTS = {"terms": True, "privacy": True}


def order_body(order_ref: str, member_id: str, amount_fen: Any, a: Alliance) -> dict[str, Any]:
    return {
        "order_ref": order_ref,
        "member_id": member_id,
        "amount_fen": amount_fen,
        "paid_at": a.server.clock.now().isoformat(),
    }


def open_alliance_over_http(
    server: Server,
    merchants: dict[str, str],
    rules: dict[str, Any] | None = None,
) -> Alliance:
    """Rules in force now, and the merchants (id → trade) onboarded, all through the API."""
    alliance = Alliance(server)
    with server.operator() as op:
        r = op.post("/v1/rules/drafts", json=rules or RULES)
        assert r.status_code == 201, r.text
        r = op.post(
            f"/v1/rules/versions/{r.json()['number']}/publish",
            json={"effective_at": server.clock.now().isoformat(), "reason": "开业 launch"},
        )
        assert r.status_code == 200, r.text
        for merchant_id, category in merchants.items():
            r = op.post(
                "/v1/merchants",
                json={"merchant_id": merchant_id, "name": merchant_id, "category": category,
                      "kyc": KYC},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            alliance.merchant_keys[merchant_id] = r.json()["api_key"]
    return alliance


def together(calls: list[Callable[[], T]], timeout_s: float = 120) -> list[T]:
    """Run every call in its own thread, released at the same instant; results in call order."""
    barrier = threading.Barrier(len(calls), timeout=timeout_s)

    def start(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(start, call) for call in calls]
        return [f.result(timeout=timeout_s) for f in futures]


def post(client_factory: Callable[[], httpx.Client], path: str, **kwargs: Any) -> Callable[[], Any]:
    """A call for ``together``: one POST on its own client (its own connection)."""

    def call() -> httpx.Response:
        with client_factory() as client:
            return client.post(path, **kwargs)

    return call
