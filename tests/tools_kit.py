"""A small alliance over real HTTP for the operator tools' tests (issue 12): rules in force,
two merchants (alpha with two stores, beta), a member of each with points released."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from alliance_http import Alliance, open_alliance_over_http
from api_server import KYC, Server, served


@dataclass
class Tools:
    server: Server
    alliance: Alliance
    members: list[str]  # [0] shops at alpha, [1] at beta

    def redeem(self, merchant_id: str, member_id: str, points: int, order_ref: str) -> str:
        code = self.alliance.code(member_id)
        with self.alliance.merchant(merchant_id) as m:
            r = m.post(
                "/v1/redemptions",
                json={
                    "code": code,
                    "points": points,
                    "order_ref": order_ref,
                    "order_amount_fen": 100_000,
                },
            )
        assert r.status_code == 201, r.text
        return str(r.json()["redemption_id"])

    def available(self, member_id: str) -> int:
        with self.server.operator() as op:
            return int(op.get(f"/v1/members/{member_id}/account").json()["available"])


@contextmanager
def tools_alliance(db_url: str, *, site: bool = False) -> Iterator[Tools]:
    with served(db_url, site=site) as server:
        alliance = open_alliance_over_http(server, {"beta": "cinema"})
        with server.operator() as op:
            r = op.post(
                "/v1/merchants",
                json={
                    "merchant_id": "alpha",
                    "name": "Alpha 咖啡",
                    "category": "cafe",
                    "kyc": KYC,
                    "stores": [
                        {"store_id": "s1", "name": "国贸店", "city": "北京"},
                        {"store_id": "s2", "name": "三里屯店"},
                    ],
                },
            )
            assert r.status_code == 201, r.text
            alliance.merchant_keys["alpha"] = r.json()["api_key"]
        members = [alliance.enrol("13800138000"), alliance.enrol("13900139000")]
        alliance.order("alpha", "a-1", members[0], 50_000)
        alliance.order("beta", "b-1", members[1], 30_000)
        alliance.release_all()
        yield Tools(server, alliance, members)
