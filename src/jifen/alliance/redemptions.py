"""Redemption at checkout, authorized by the member with a one-time code (like a payment code).

The member's app asks for a code; the cashier enters it with the points to spend. The code is
stored only as a keyed hash, lives five minutes, and names exactly one redemption: the ledger key
is derived from it, so a second, different redemption with the same code is refused by the
ledger's idempotency itself, with no extra write to race on.
"""

from __future__ import annotations

import random
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from jifen.alliance.errors import CodeInvalid, CodeUsed
from jifen.alliance.members import require_member
from jifen.alliance.merchants import active_merchant
from jifen.alliance.orders import _check_ref, ledger_key
from jifen.app.context import Context
from jifen.app.paging import Page, check_limit, decode_cursor, time_cursor
from jifen.errors import InvalidRequest
from jifen.ledger import Cap, CapExceeded, IdempotencyConflict, Redeem, queries
from jifen.ledger.chain import entry_id_for
from jifen.rules import check_redemption, redemption_limit
from jifen.rules.errors import OverOrderShare
from jifen.store import tables as t
from jifen.webhooks import emit, events

CODE_TTL = timedelta(minutes=5)
CODE_DIGITS = 18  # like a payment code: collisions between live codes are negligible


def new_code(
    ctx: Context,
    member_id: str,
    now: datetime,
    *,
    rng: random.Random | None = None,
    conn: Connection | None = None,
) -> tuple[str, datetime]:
    """A fresh code for the member. ``rng`` only for the seeded demo; by default the OS's CSPRNG."""
    pick = rng.choice if rng is not None else secrets.choice
    code = "".join(pick("0123456789") for _ in range(CODE_DIGITS))
    expires = now + CODE_TTL

    def work(tx: Connection) -> tuple[str, datetime]:
        require_member(ctx, member_id, conn=tx)
        tx.execute(
            t.redemption_codes.insert().values(
                code_hash=ctx.secrets.code_hash(code),
                member_id=member_id,
                created_at=now,
                expires_at=expires,
            )
        )
        return code, expires

    return ctx.atomic(conn, work)


def order_cap(merchant_id: str, order_ref: str) -> str:
    """The key of the points paid on one order of one merchant, by every redemption together."""
    return f"redeem-order:{merchant_id}:{order_ref}"


def normalize_code(code: str) -> str:
    """NFKC (full-width digits typed at a till are the same code), then 18 ASCII digits only."""
    text = unicodedata.normalize("NFKC", code) if isinstance(code, str) else ""
    if len(text) != CODE_DIGITS or not all("0" <= c <= "9" for c in text):
        raise CodeInvalid("付款码无效 / invalid redemption code")
    return text


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
    conn: Connection | None = None,
) -> Redemption:
    """Spend ``points`` of the code's member at this merchant, within the rules in force now.

    The order's share limit holds over every redemption on the order together, under the lock of
    the order's cap: two codes on one bill cannot each pay the whole allowance."""
    _check_ref(order_ref)
    code = normalize_code(code)
    if points <= 0 or order_amount_fen <= 0:
        raise InvalidRequest("积分与订单金额须为正整数 / points and order amount must be positive")
    now = ctx.clock.now()

    def work(tx: Connection) -> Redemption:
        merchant = active_merchant(ctx, merchant_id, conn=tx)
        code_hash = ctx.secrets.code_hash(code)
        row = tx.execute(
            select(t.redemption_codes).where(t.redemption_codes.c.code_hash == code_hash)
        ).first()
        # one code, one redemption, at whichever merchant takes it first: the key names the code
        # alone, and the merchant is part of the body, so another merchant's attempt is a conflict
        key = ledger_key("redeem", "code", code_hash)
        used = ctx.ledger.entry(entry_id_for(key), conn=tx)
        if row is None or (row.expires_at <= now and used is None):
            raise CodeInvalid("付款码无效或已过期 / redemption code invalid or expired")
        rule_version: int | None
        limit: int | None
        if used is None:
            version = ctx.rulebook.in_force(now, conn=tx)
            doc = version.document
            check_redemption(
                doc, points=points, order_amount_fen=order_amount_fen, category=merchant.category
            )
            rule_version = version.number
            limit = redemption_limit(
                doc, order_amount_fen=order_amount_fen, category=merchant.category
            )
        else:  # a retry is bound to what the first attempt was checked against
            stored_version = used.detail.get("rule_version")
            rule_version = None if stored_version is None else int(stored_version)
            limit = _stored_cap_limit(used.detail)
        try:
            receipt = ctx.ledger.submit(
                Redeem(
                    key=key,
                    member_id=row.member_id,
                    merchant_id=merchant_id,
                    points=points,
                    order_ref=order_ref,
                    order_amount_fen=order_amount_fen,
                    rule_version=rule_version,
                    cap=Cap(order_cap(merchant_id, order_ref), limit)
                    if limit is not None
                    else None,
                ),
                now,
                conn=tx,
            )
        except IdempotencyConflict as exc:
            raise CodeUsed("付款码已使用 / this code was already used") from exc
        except CapExceeded as exc:
            left = max(0, int(exc.context["limit_points"]) - int(exc.context["used_points"]))
            raise OverOrderShare(
                f"本单积分抵扣已达上限，最多还可使用 {left} 积分 / this order may be paid with at "
                f"most {left} more points",
                points=points,
                limit_points=left,
                detail_key="more",
            ) from exc
        done = _redemption(receipt.entry_id, receipt.at, dict(receipt.detail), receipt.replayed)
        if not done.replayed:
            emit(tx, [events.points_redeemed(
                redemption_id=done.redemption_id, merchant_id=merchant_id, order_ref=order_ref,
                member_id=done.member_id, points=done.points, value_fen=done.value_fen,
                at=done.at,
            )])  # fmt: skip
        return done

    return ctx.atomic(conn, work)


def _stored_cap_limit(detail: Any) -> int | None:
    """Redemptions recorded before order caps existed carry none; later ones name their cap."""
    return int(detail["cap_limit_points"]) if detail.get("cap") else None


def list_redemptions(
    ctx: Context, merchant_id: str, *, cursor: str | None, limit: int
) -> Page[Redemption]:
    """Redemptions the merchant accepted, newest first."""
    after = decode_cursor(cursor, (datetime, str))
    with ctx.engine.connect() as conn:
        rows = queries.merchant_redemptions(
            conn, merchant_id, after=after, limit=check_limit(limit) + 1
        )
        entries = ctx.ledger.entries([entry_id for entry_id, _ in rows[:limit]], conn=conn)
    items = [
        _redemption(entry_id, at, dict(entries[entry_id].detail), False)
        for entry_id, at in rows[:limit]
    ]
    last = items[-1] if len(rows) > limit else None
    return Page(items, time_cursor(last.at, last.redemption_id) if last else None)
