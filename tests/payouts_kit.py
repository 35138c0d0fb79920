"""Referral payouts' test fixtures: accrued rewards made by hand (a row and its accrual entry, as
``jifen.promoters.accrual`` writes them), registered and verified payees, valid ID numbers, the
system accounts' balances, and a provider stand-in for the outcomes the sandbox never gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text

from jifen.app import Context
from jifen.funds import Funds
from jifen.ledger import Asset, Leg, Post
from jifen.ledger.model import REFERRAL_PAYABLE, REVENUE
from jifen.payments import (
    PersonTransferBatch,
    PersonTransferDetail,
    PersonTransferResult,
    ProviderUnavailable,
)
from jifen.promoters import payees
from jifen.promoters.config import month_of
from jifen.store import tables as t

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str) -> str:
    """``first17`` and its MOD 11-2 check character (GB 11643)."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def accrue(ctx: Context, promoter: str, order_ref: str, fen: int, at: datetime) -> str:
    """An accrued reward of ``fen`` owed to ``promoter``: its row and its ledger entry."""
    reward_id = f"{order_ref}:direct"
    receipt = ctx.ledger.submit(
        Post(
            key=f"referral-accrual:{reward_id}",
            legs=(Leg(REVENUE, Asset.CNY, -fen), Leg(REFERRAL_PAYABLE, Asset.CNY, fen)),
            memo="test accrual",
        ),
        at,
    )
    with ctx.writer.begin() as conn:
        conn.execute(
            t.referral_rewards.insert().values(
                reward_id=reward_id, promoter_id=promoter, kind="direct", member_id="mbuyer",
                merchant_id="cafe", order_ref=order_ref, earn_entry_id="e-test", rule_version=1,
                share_bp=30, order_fen=fen * 100, basis_fen=fen * 100, fen=fen, capped_fen=0,
                funded_by="operator_revenue", state="accrued", paid_at=at - timedelta(days=8),
                due_at=at, created_at=at - timedelta(days=8), settled_at=at,
                month=month_of(at), entry_id=receipt.entry_id, batch_id=None,
            )
        )  # fmt: skip
    return reward_id


def register(
    ctx: Context, member_id: str, name: str, number: str, openid: str, now: datetime
) -> payees.Payee:
    reg = payees.Registration(name, number, payees.WECHAT_OPENID, openid,
                              payees.PAYEE_CONSENT_VERSION)  # fmt: skip
    return payees.register(ctx, member_id, reg, now)


def verified(
    ctx: Context, member_id: str, name: str, number: str, openid: str, now: datetime
) -> None:
    register(ctx, member_id, name, number, openid, now)
    payees.verify(ctx, member_id, f"kyc-{member_id}", now)


def balance(ctx: Context, account: str) -> int:
    with ctx.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT COALESCE(SUM(amount), 0) FROM balances WHERE account_id = :a"),
                {"a": account},
            ).scalar_one()
        )


@dataclass
class Stand:
    """A provider stand-in for persons' transfers: every detail succeeds unless its openid is in
    ``failing``; ``down`` makes it unreachable. It records what it was sent."""

    failing: set[str] = field(default_factory=set)
    down: bool = False
    sent: list[PersonTransferBatch] = field(default_factory=list)
    name: str = "stand-in"

    def transfer_to_persons(self, batch: PersonTransferBatch) -> PersonTransferResult:
        if self.down:
            raise ProviderUnavailable("down")
        if all(b.out_batch_no != batch.out_batch_no for b in self.sent):
            self.sent.append(batch)
        return PersonTransferResult(batch.out_batch_no, "B" + batch.out_batch_no, "ACCEPTED")

    def query_person_transfers(self, out_batch_no: str) -> PersonTransferResult:
        if self.down:
            raise ProviderUnavailable("down")
        batch = next(b for b in self.sent if b.out_batch_no == out_batch_no)
        details = tuple(
            PersonTransferDetail(
                d.out_detail_no,
                "D" + d.out_detail_no,
                "FAIL" if d.openid in self.failing else "SUCCESS",
                "ACCOUNT_FROZEN" if d.openid in self.failing else None,
            )
            for d in batch.details
        )
        return PersonTransferResult(out_batch_no, "B" + out_batch_no, "FINISHED", details)


def stand_funds(stand: Stand) -> Funds:
    return Funds(stand, "", "", "", "", "")  # type: ignore[arg-type]
