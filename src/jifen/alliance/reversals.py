"""Undoing a redemption: a void the same business day, a reversal any day after.

Both are one correcting ledger entry (``Reverse``) that gives the points back to the lots they
came from and takes them off the merchant's accepted points; history is never edited. They differ
in what they mean for the merchant's money:

- a **void** (撤销) is the till's undo of a redemption of today (Asia/Shanghai business day): the
  redemption and its void fall on one statement, so the merchant is never reimbursed for it;
- a **reversal** (冲正) undoes a redemption of an earlier day, whose reimbursement was settled
  (or is about to be): the value goes on today's statement as a negative adjustment, netted
  against what the merchant is owed next.

One redemption is undone at most once: the ledger key names the redemption, so a retry with the
same reason is the first answer replayed, and another attempt (a reversal after a void, another
reason) is ``redemption.already_reversed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from jifen.alliance.errors import (
    NotVoidable,
    RedemptionAlreadyReversed,
    RedemptionNotFound,
    RedemptionNotReversible,
)
from jifen.alliance.orders import ledger_key
from jifen.alliance.redemptions import Redemption, _redemption
from jifen.app.clock import business_date
from jifen.app.context import Context
from jifen.errors import InvalidRequest
from jifen.ledger import IdempotencyConflict, Reverse
from jifen.ledger.errors import NotReversible
from jifen.ledger.model import ID_PATTERN

__all__ = ["Reversal", "get_redemption", "undo_redemption"]

MAX_REASON_CHARS = 200


@dataclass(frozen=True)
class Reversal:
    reversal_id: str  # the correcting entry
    kind: str  # void | reversal
    redemption: Redemption
    reason: str
    at: datetime
    replayed: bool = False


def get_redemption(
    ctx: Context, merchant_id: str | None, redemption_id: str, *, conn: Connection | None = None
) -> Redemption:
    """One redemption; ``merchant_id``: only that merchant's (another's is not found, exactly as
    one that never was); None: any (the operator)."""
    entry = (
        ctx.ledger.entry(redemption_id, conn=conn) if ID_PATTERN.fullmatch(redemption_id) else None
    )
    if entry is None or entry.kind != "redeem":
        raise RedemptionNotFound("没有这笔积分抵扣 / no such redemption")
    found = _redemption(entry.entry_id, entry.at, dict(entry.detail), False)
    if merchant_id is not None and found.merchant_id != merchant_id:
        raise RedemptionNotFound("没有这笔积分抵扣 / no such redemption")
    return found


def undo_redemption(
    ctx: Context,
    redemption_id: str,
    *,
    kind: str,
    reason: str,
    merchant_id: str | None,
    conn: Connection | None = None,
) -> Reversal:
    """Void (``kind="void"``, same business day only) or reverse a redemption, once."""
    assert kind in ("void", "reversal")
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= MAX_REASON_CHARS:
        raise InvalidRequest(
            "须说明理由（1-200 字）/ a reason of 1-200 characters is required", field="reason"
        )
    now = ctx.clock.now()

    def work(tx: Connection) -> Reversal:
        redemption = get_redemption(ctx, merchant_id, redemption_id, conn=tx)
        if kind == "void" and business_date(redemption.at) != business_date(now):
            raise NotVoidable(
                "只能撤销当天的积分抵扣，之前的请冲正 / only a redemption of today can be voided; "
                "reverse an earlier one instead",
            )
        key = ledger_key("undo-redeem", redemption.merchant_id, redemption_id)
        try:
            receipt = ctx.ledger.submit(
                Reverse(key=key, entry_id=redemption_id, reason=f"{kind}: {reason}"), now, conn=tx
            )
        except IdempotencyConflict as exc:
            raise RedemptionAlreadyReversed(
                "这笔积分抵扣已撤销或冲正 / this redemption was already voided or reversed"
            ) from exc
        except NotReversible as exc:
            raise RedemptionNotReversible(
                f"这笔积分抵扣不能撤回 / this redemption cannot be undone: {exc.message}",
                reason=exc.message,
            ) from exc
        return Reversal(receipt.entry_id, kind, redemption, reason, receipt.at, receipt.replayed)

    return ctx.atomic(conn, work)
