"""An alliance whose money moves through the sandbox provider, driven only over HTTP: Jifen's API
(``api_server.served`` with the sandbox's credentials) for the operator, the merchants' tills and
the members; the sandbox's control API for the customers who pay and for the provider's clock.

The money path itself (``run_money``) and the day's jobs run as ``jifen serve`` runs them on its
schedule, on the served alliance's context; ``Till`` is what one merchant's checkout does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from alliance_http import Alliance, open_alliance_over_http
from api_server import Server, served
from jifen.app import Context
from jifen.funds import run_money
from jifen.store import tables as t
from loopback_tls import LOOPBACK_TLS
from sandbox_kit import SP, Kit, sandbox

WAIT_S = 60.0


@dataclass
class Money:
    """Jifen and the sandbox side by side, on clocks that move together."""

    server: Server
    kit: Kit
    alliance: Alliance
    accounts: dict[str, str] = field(default_factory=dict)  # merchant id → its provider account
    receivers: dict[str, str] = field(default_factory=dict)  # receiver name → its account

    @property
    def ctx(self) -> Context:
        return self.server.ctx

    def now(self) -> datetime:
        return self.server.clock.now()

    def set_time(self, when: datetime) -> None:
        """Both clocks to ``when`` (the sandbox runs what fell due on the way)."""
        self.server.set_clock(when)
        self.kit.ok(self.kit.control.put("/sandbox/clock", json={"now": when.isoformat()}))

    def money(self, passes: int = 1, every_s: int = 65) -> None:
        """``passes`` passes of the money path, ``every_s`` apart on both clocks."""
        assert self.server.funds is not None
        for _ in range(passes):
            self.set_time(self.now() + timedelta(seconds=every_s))
            run_money(self.ctx, self.server.funds)

    def money_until(self, done: Callable[[], bool], what: str, passes: int = 8) -> None:
        """Passes of the money path until ``done`` (at most ``passes``: the provider answers a
        minute after it is asked, and a finished split can make the release of a remainder due)."""
        for _ in range(passes):
            self.money()
            if done():
                return
        raise AssertionError(f"{what}: not done after {passes} passes of the money path")

    def jobs(self) -> list[dict[str, Any]]:
        """The day's jobs over HTTP, as the scheduler would run them."""
        with self.server.operator() as op:
            r = op.post("/v1/jobs/run", json={})
        assert r.status_code == 200, r.text
        closed: list[dict[str, Any]] = r.json()
        return closed

    def open_account(self, name: str) -> str:
        """A new sub-merchant (特约商户) at the provider, under the alliance's service provider."""
        body = {"name": name, "kind": "sub_merchant", "role": "merchant", "sp_mchid": SP}
        return str(self.kit.ok(self.kit.control.post("/sandbox/merchants", json=body))["mchid"])

    def top_up(self, account: str, fen: int) -> None:
        self.kit.ok(self.kit.control.post(f"/sandbox/merchants/{account}/top-up",
                                          json={"amount": fen}))  # fmt: skip

    def count(self, table: Any, *where: Any) -> int:
        with self.ctx.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
            )

    def wait_paid(self, n: int) -> None:
        paid = t.payments.c.state == "paid"
        self.kit.wait_for(lambda: self.count(t.payments, paid) >= n, timeout_s=WAIT_S)


@dataclass
class Till:
    """One merchant's checkout: creates payments, its customers pay them at the provider."""

    client: httpx.Client
    control: httpx.Client

    def sell(self, order_ref: str, member_id: str, amount_fen: int) -> str:
        r = self.client.post("/v1/payments", json={"order_ref": order_ref, "member_id": member_id,
                             "amount_fen": amount_fen, "description": "联盟消费"})  # fmt: skip
        assert r.status_code == 201, r.text
        out_trade_no: str = r.json()["out_trade_no"]
        paid = self.control.post("/sandbox/pay", json={"out_trade_no": out_trade_no})
        assert paid.status_code == 200, paid.text
        return out_trade_no


def sell_all(m: Money, orders: list[tuple[str, str, str, int]], tills: int = 4) -> dict[str, str]:
    """Every (merchant, order_ref, member, fen) sold at its merchant's till, ``tills`` checkouts
    at a time; returns order_ref → out_trade_no."""
    by_merchant: dict[str, list[tuple[str, str, int]]] = {}
    for merchant, ref, member, fen in orders:
        by_merchant.setdefault(merchant, []).append((ref, member, fen))

    def run(merchant: str) -> dict[str, str]:
        with (
            m.alliance.merchant(merchant) as client,
            httpx.Client(
                base_url=m.kit.base_url, timeout=30, trust_env=False, verify=LOOPBACK_TLS
            ) as control,
        ):
            till = Till(client, control)
            return {ref: till.sell(ref, member, fen) for ref, member, fen in by_merchant[merchant]}

    sold: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=tills) as pool:
        for found in pool.map(run, by_merchant):
            sold |= found
    return sold


@contextmanager
def money_over_http(
    db_url: str, tmp_path: Path, tmp_factory: Any, merchants: dict[str, str]
) -> Iterator[Money]:
    """The sandbox and Jifen served, rules in force, ``merchants`` onboarded over HTTP and each
    linked to a new account at the provider."""
    creds = tmp_path / "sandbox" / "credentials.json"
    with sandbox(tmp_path, tmp_factory) as kit, served(db_url, provider=creds) as server:
        alliance = open_alliance_over_http(server, merchants)
        m = Money(server, kit, alliance)
        kit.ok(kit.control.put("/sandbox/clock", json={"now": m.now().isoformat()}))
        with server.operator() as op:
            for merchant in merchants:
                m.accounts[merchant] = m.open_account(f"{merchant}有限公司")
                r = op.put(f"/v1/operator/merchants/{merchant}/provider-account",
                           json={"account": m.accounts[merchant]})  # fmt: skip
                assert r.status_code == 200, r.text
        yield m
