"""Jifen's money path against the sandbox provider, at the service layer: an alliance on a
simulated clock, the sandbox on a frozen clock at the same instant, and one ``step`` that moves
both forward and runs the money path, as ``jifen serve`` does on its schedule."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from jifen.alliance.members import enrol
from jifen.alliance.merchants import Merchant, MerchantStatus, create_merchant
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.funds import Funds, funds_from_credentials, handle_notification, link_merchant, run_money
from jifen.rules import RuleDocument
from sandbox_kit import SHOP_A, SHOP_B, T0, Kit, Receiver, sandbox


@dataclass
class Money:
    ctx: Context
    funds: Funds
    kit: Kit
    inbox: Receiver
    keys: dict[str, str]  # each merchant's API key
    seen: int = 0

    def deliver(self) -> int:
        """Hand every callback the sandbox sent since the last call to Jifen."""
        fresh = self.inbox.received[self.seen :]
        self.seen += len(fresh)
        for headers, body in fresh:
            handle_notification(self.ctx, self.funds, headers, body)
        return len(fresh)

    def step(self, seconds: float = 0) -> None:
        """Both clocks ``seconds`` on, callbacks delivered, one pass of the money path."""
        if seconds:
            self.kit.advance(seconds)
            assert isinstance(self.ctx.clock, SimulatedClock)
            self.ctx.clock.set(self.ctx.clock.now() + timedelta(seconds=seconds))
        self.deliver()
        run_money(self.ctx, self.funds)
        self.deliver()

    def pay(self, out_trade_no: str) -> dict[str, Any]:
        paid: dict[str, Any] = self.kit.ok(
            self.kit.control.post("/sandbox/pay", json={"out_trade_no": out_trade_no})
        )
        self.kit.wait_for(lambda: len(self.inbox.received) > self.seen)
        self.deliver()
        return paid


def alliance(db_url: str, doc: RuleDocument | None = None) -> tuple[Context, dict[str, str]]:
    ctx = open_alliance(db_url, secret="funds-secret", clock=SimulatedClock(T0))
    v1 = ctx.rulebook.draft(doc or RuleDocument(), T0)
    ctx.rulebook.publish(v1.number, effective_at=T0, reason="launch", now=T0,
                         points_outstanding=False)  # fmt: skip
    keys = {}
    for merchant_id, category in (("cafe", "cafe"), ("shop", "retail")):
        _, keys[merchant_id] = create_merchant(ctx=ctx, merchant=Merchant(
            merchant_id, merchant_id, category, MerchantStatus.ACTIVE), now=T0)  # fmt: skip
    return ctx, keys


def member(ctx: Context, phone: str = "13900139000") -> str:
    return enrol(ctx, phone, {"terms": True, "privacy": True}, ctx.clock.now()).member_id


@contextmanager
def money(
    db_url: str, tmp_path: Path, tmp_factory: Any, doc: RuleDocument | None = None
) -> Iterator[Money]:
    ctx, keys = alliance(db_url, doc)
    try:
        with sandbox(tmp_path, tmp_factory) as kit, Receiver() as inbox:
            creds = tmp_path / "sandbox" / "credentials.json"
            funds = funds_from_credentials(creds, inbox.url)
            for merchant_id, account in (("cafe", SHOP_A), ("shop", SHOP_B)):
                link_merchant(ctx, funds, merchant_id, account=account)
            yield Money(ctx, funds, kit, inbox, keys)
    finally:
        ctx.engine.dispose()
