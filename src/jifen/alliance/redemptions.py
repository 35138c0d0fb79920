"""Redemption at checkout, authorized by the member with a one-time code (like a payment code).

The member's app asks for a code; the cashier enters it with the points to spend. The code is
stored only as a keyed hash, lives five minutes, and names exactly one redemption: the ledger key
is derived from it, so a second, different redemption with the same code is refused by the
ledger's idempotency itself, with no extra write to race on.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from jifen.alliance.context import Context, Page, check_limit, older_than, time_cursor
from jifen.alliance.errors import CodeInvalid, CodeUsed, InvalidRequest
from jifen.alliance.members import require_member
from jifen.alliance.merchants import active_merchant
from jifen.alliance.orders import _check_ref, ledger_key
from jifen.ledger import LedgerError, Redeem
from jifen.ledger.chain import entry_id_for
from jifen.ledger.model import accepted_account
from jifen.rules import check_redemption
from jifen.store import tables as t

CODE_TTL = timedelta(minutes=5)
CODE_DIGITS = 18  # like a payment code: collisions between live codes are negligible


def new_code(
    ctx: Context, member_id: str, now: datetime, *, rng: random.Random | None = None
) -> tuple[str, datetime]:
    """A fresh code for the member. ``rng`` only for the seeded demo; by default the OS's CSPRNG."""
    require_member(ctx, member_id)
    pick = rng.choice if rng is not None else secrets.choice
    code = "".join(pick("0123456789") for _ in range(CODE_DIGITS))
    expires = now + CODE_TTL
    with ctx.writer.begin() as conn:
        conn.execute(
            t.redemption_codes.insert().values(
                code_hash=ctx.secrets.code_hash(code),
                member_id=member_id,
                created_at=now,
                expires_at=expires,
            )
        )
    return code, expires


@dataclass(frozen=True)
class Redemption:
    redemption_id: str
    merchant_id: str
    member_id: str
    order_ref: str
    points: int
    value_fen: int  # what the points pay at checkout; reimbursed to the merchant at settlement
    at: datetime
    replayed: bool = False


def _redemption(entry_id: str, at: datetime, detail: dict[str, Any], replayed: bool) -> Redemption:
    return Redemption(
        redemption_id=entry_id,
        merchant_id=str(detail["merchant_id"]),
        member_id=str(detail["member_id"]),
        order_ref=str(detail["order_ref"]),
        points=int(detail["points"]),
        value_fen=int(detail.get("reimbursed_fen", 0)),
        at=at,
        replayed=replayed,
    )


def redeem(
    ctx: Context,
    merchant_id: str,
    *,
    code: str,
    points: int,
    order_ref: str,
    order_amount_fen: int,
) -> Redemption:
    """Spend ``points`` of the code's member at this merchant, within the rules in force now."""
    _check_ref(order_ref)
    if not isinstance(code, str) or not code.isdigit() or len(code) != CODE_DIGITS:
        raise CodeInvalid("付款码无效 / invalid redemption code")
    now = ctx.clock.now()
    merchant = active_merchant(ctx, merchant_id)
    code_hash = ctx.secrets.code_hash(code)
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(t.redemption_codes).where(t.redemption_codes.c.code_hash == code_hash)
        ).first()
    # one code, one redemption, at whichever merchant takes it first: the key names the code
    # alone, and the merchant is part of the body, so another merchant's attempt is a conflict
    key = ledger_key("redeem", "code", code_hash)
    used = ctx.ledger.entry(entry_id_for(key))
    if row is None or (row.expires_at <= now and used is None):
        raise CodeInvalid("付款码无效或已过期 / redemption code invalid or expired")
    if points <= 0 or order_amount_fen <= 0:
        raise InvalidRequest("积分与订单金额须为正整数 / points and order amount must be positive")
    doc = ctx.rulebook.in_force(now).document
    if used is None:
        check_redemption(
            doc, points=points, order_amount_fen=order_amount_fen, category=merchant.category
        )
    try:
        receipt = ctx.ledger.submit(
            Redeem(
                key=key,
                member_id=row.member_id,
                merchant_id=merchant_id,
                points=points,
                order_ref=order_ref,
            ),
            now,
        )
    except LedgerError as exc:
        if exc.code == "idempotency.conflict":
            raise CodeUsed("付款码已使用 / this code was already used") from exc
        raise
    return _redemption(receipt.entry_id, receipt.at, dict(receipt.detail), receipt.replayed)


def list_redemptions(
    ctx: Context, merchant_id: str, *, cursor: str | None, limit: int
) -> Page[Redemption]:
    """Redemptions the merchant accepted, newest first."""
    query = (
        select(t.entries.c.entry_id, t.entries.c.at)
        .join(t.legs, t.legs.c.entry_id == t.entries.c.entry_id)
        .where(
            t.entries.c.kind == "redeem",
            t.legs.c.account_id == accepted_account(merchant_id),
            older_than(t.entries.c.at, t.entries.c.entry_id, cursor),
        )
        .order_by(t.entries.c.at.desc(), t.entries.c.entry_id.desc())
        .limit(check_limit(limit) + 1)
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    entries = ctx.ledger.entries([r.entry_id for r in rows[:limit]])
    items = [
        _redemption(r.entry_id, r.at, dict(entries[r.entry_id].detail), False) for r in rows[:limit]
    ]
    last = items[-1] if len(rows) > limit else None
    return Page(items, time_cursor(last.at, last.redemption_id) if last else None)
