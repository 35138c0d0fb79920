"""Members: enrolment by phone number (sealed at rest, found by keyed hash), consents, tokens,
and what a member sees: balance, pending points with release dates, points expiring soon, history.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from jifen.alliance.errors import ConsentRequired, MemberNotFound
from jifen.app.context import Context
from jifen.app.paging import Page, check_limit, decode_cursor, encode_cursor
from jifen.errors import InvalidRequest
from jifen.ledger import Lot, LotStatus, queries
from jifen.rules import NoRulesInForce
from jifen.store import tables as t

PHONE = re.compile(r"1[3-9][0-9]{9}")  # ASCII digits only: \d would match ５, ٣ or ৫ too
PURPOSES = ("terms", "privacy", "marketing")  # terms and privacy are required to enrol
POLICY_VERSION = "2026-12"  # 2026-12: referral records and payee identity in the notice
TOKEN_TTL = timedelta(hours=12)
EXPIRING_SOON = timedelta(days=30)


def normalize_phone(phone: str) -> str:
    """Mainland mobile numbers, with or without +86 / spaces / dashes, as 11 ASCII digits.

    NFKC first, so the full-width digits a Chinese keyboard types (１３８…) are the same number as
    ASCII ones; any other digit (Arabic-Indic ٣, Bengali ৫ …) is refused, never counted as a digit:
    one person, one member, whatever keyboard they typed on."""
    digits = re.sub(r"[ \t-]", "", unicodedata.normalize("NFKC", phone or ""))
    digits = digits.removeprefix("+86").removeprefix("0086")
    if not PHONE.fullmatch(digits):
        raise InvalidRequest(
            "手机号格式不正确 / not a mainland mobile number", field="phone", detail_key="phone"
        )
    return digits


@dataclass(frozen=True)
class Member:
    member_id: str
    phone_masked: str
    created_at: datetime
    consents: dict[str, bool]


def member_id_for(ctx: Context, phone: str) -> str:
    """Derived from the keyed hash: the same phone enrols once, and the id reveals nothing.
    (An erased member's id is never reused: ``enrol`` gives the phone a fresh random one.)"""
    return "m" + ctx.secrets.lookup(normalize_phone(phone))[:15]


def fresh_member_id() -> str:
    """A random id, for a phone enrolling again after its member was erased: the new account
    shares nothing with the old one, and no key re-derives it from the phone."""
    return "m" + secrets.token_hex(8)[:15]


def member_id_of(ctx: Context, phone: str, *, conn: Connection | None = None) -> str:
    """The id this phone is (or would be) enrolled under: its live member's, else the derived
    one, else (the derived id belongs to an erased member) a fresh random one."""
    number = normalize_phone(phone)
    c = t.members.c
    with ctx.reading(conn) as conn:
        live = conn.execute(
            select(c.member_id).where(c.phone_lookup == ctx.secrets.lookup(number))
        ).scalar_one_or_none()
        if live is not None:
            return str(live)
        derived = member_id_for(ctx, number)
        taken = conn.execute(select(c.member_id).where(c.member_id == derived)).first()
    return fresh_member_id() if taken is not None else derived


def enrol(
    ctx: Context,
    phone: str,
    consents: dict[str, bool],
    now: datetime,
    *,
    conn: Connection | None = None,
    new_id: str | None = None,
) -> Member:
    """Enrol (idempotent per phone). Terms and privacy consent are required (PIPL art 13, 17).
    ``new_id``: the id ``member_id_of`` gave a new member earlier in the same unit of work (an
    import reports it before it writes)."""
    number = normalize_phone(phone)
    unknown = set(consents) - set(PURPOSES)
    if unknown:
        raise InvalidRequest(
            f"未知的同意项 / unknown consent purpose {sorted(unknown)}",
            purposes=sorted(unknown),
            detail_key="consent_purpose",
        )
    if not (consents.get("terms") and consents.get("privacy")):
        raise ConsentRequired(
            "须同意会员条款与隐私政策 / terms and privacy consent are required", field="consents"
        )

    def work(conn: Connection) -> Member:
        c = t.members.c
        lookup = ctx.secrets.lookup(number)
        member_id = conn.execute(
            select(c.member_id).where(c.phone_lookup == lookup)
        ).scalar_one_or_none()
        if member_id is None:
            member_id = new_id or member_id_of(ctx, number, conn=conn)
            conn.execute(
                t.members.insert().values(
                    member_id=member_id,
                    phone_lookup=lookup,
                    phone_sealed=ctx.secrets.seal(number),
                    created_at=now,
                )
            )
            conn.execute(
                t.consents.insert(),
                [
                    {
                        "member_id": member_id,
                        "purpose": purpose,
                        "at": now,
                        "granted": int(bool(consents.get(purpose))),
                        "policy_version": POLICY_VERSION,
                    }
                    for purpose in PURPOSES
                ],
            )
        return get_member(ctx, member_id, conn=conn)

    return ctx.atomic(conn, work)


def count_members(ctx: Context) -> int:
    """How many members have enrolled (the operator's headline figure)."""
    with ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.members)).scalar_one())


def require_member(ctx: Context, member_id: str, *, conn: Connection | None = None) -> None:
    """Only that the member exists: orders, codes and balances need no phone number unsealed."""
    with ctx.reading(conn) as conn:
        found = conn.execute(
            select(t.members.c.member_id).where(
                t.members.c.member_id == member_id, t.members.c.erased_at.is_(None)
            )
        ).first()
    if found is None:
        raise MemberNotFound("没有这个会员 / no such member")


def get_member(ctx: Context, member_id: str, *, conn: Connection | None = None) -> Member:
    with ctx.reading(conn) as conn:
        row = conn.execute(select(t.members).where(t.members.c.member_id == member_id)).first()
        if row is None or row.erased_at is not None:
            raise MemberNotFound("没有这个会员 / no such member")
        consent_rows = conn.execute(
            select(t.consents).where(t.consents.c.member_id == member_id).order_by(t.consents.c.at)
        ).all()
    phone = ctx.secrets.unseal(row.phone_sealed)
    return Member(
        member_id=member_id,
        phone_masked=phone[:3] + "****" + phone[-4:],
        created_at=row.created_at,
        consents={c.purpose: bool(c.granted) for c in consent_rows},  # the latest wins
    )


def find_by_phone(ctx: Context, phone: str) -> Member:
    with ctx.engine.connect() as conn:
        member_id = conn.execute(
            select(t.members.c.member_id).where(
                t.members.c.phone_lookup == ctx.secrets.lookup(normalize_phone(phone))
            )
        ).scalar_one_or_none()
    if member_id is None:
        raise MemberNotFound("没有这个会员 / no such member")
    return get_member(ctx, member_id)


def issue_token(
    ctx: Context, member_id: str, now: datetime, *, conn: Connection | None = None
) -> tuple[str, datetime]:
    require_member(ctx, member_id, conn=conn)
    return ctx.secrets.member_token(member_id, now, TOKEN_TTL), now + TOKEN_TTL


@dataclass(frozen=True)
class LotView:
    lot_id: str
    merchant_id: str
    order_ref: str
    rule_version: int
    points: int
    pending: int
    available: int
    release_at: datetime
    expires_at: datetime | None
    status: str


@dataclass(frozen=True)
class Account:
    member_id: str
    available: int
    pending: int
    debt: int
    pending_lots: list[LotView]
    expiring_soon: list[LotView]


def _lot_view(lot: Lot) -> LotView:
    return LotView(
        lot_id=lot.lot_id,
        merchant_id=lot.merchant_id,
        order_ref=lot.order_ref,
        rule_version=lot.rule_version,
        points=lot.points,
        pending=lot.pending,
        available=lot.available,
        release_at=lot.release_at,
        expires_at=lot.expires_at,
        status=lot.status.value,
    )


def account(ctx: Context, member_id: str, now: datetime) -> Account:
    """What the member sees first: available, pending (with release dates), expiring soon."""
    require_member(ctx, member_id)
    balance = ctx.ledger.balance(member_id)
    with ctx.engine.connect() as conn:
        lots = [_lot_view(lot) for lot in queries.live_lots(conn, member_id)]
    horizon = now + EXPIRING_SOON
    # expired means unusable from the instant of expiry, before the daily job burns what is left
    expired = [lot for lot in lots if lot.expires_at is not None and lot.expires_at <= now]
    usable = [lot for lot in lots if lot not in expired]
    return Account(
        member_id=member_id,
        available=balance.available - sum(lot.available for lot in expired),
        pending=balance.pending - sum(lot.pending for lot in expired),
        debt=balance.debt,
        pending_lots=[lot for lot in usable if lot.status == LotStatus.PENDING.value],
        expiring_soon=[
            lot
            for lot in usable
            if lot.available and lot.expires_at is not None and lot.expires_at <= horizon
        ],
    )


@dataclass(frozen=True)
class HistoryLine:
    entry_id: str
    at: datetime
    kind: str
    points: int  # the change to the member's points, pending and available together
    pending_points: int  # the change to pending points (+ earned, - released or voided)
    available_points: int  # the change to available points (+ released, - spent or expired)
    merchant_id: str | None
    order_ref: str | None
    rule_version: int | None


def history(ctx: Context, member_id: str, *, cursor: str | None, limit: int) -> Page[HistoryLine]:
    """Each line says which order and which rule version produced it (brief §2). Newest first;
    lines at one instant in their lifecycle's order (``queries.LIFECYCLE_ORDER``)."""
    require_member(ctx, member_id)
    after = decode_cursor(cursor, (datetime, int, str))
    with ctx.engine.connect() as conn:
        found = queries.member_history(conn, member_id, after=after, limit=check_limit(limit) + 1)
        page = found[:limit]
        details = ctx.ledger.entries([e.entry_id for e in page], conn=conn)
    items = [_line(ctx, e, details[e.entry_id].detail) for e in page]
    last = page[-1] if len(found) > limit else None
    return Page(items, encode_cursor([last.at, last.rank, last.entry_id]) if last else None)


def _line(ctx: Context, e: queries.HistoryEntry, detail: Mapping[str, Any]) -> HistoryLine:
    """A history line names its order, merchant and rule version: from the entry itself, else
    from the lot it moved (a release, an expiry), else the version in force at the time."""
    lot = ctx.ledger.lot(str(detail["lot_id"])) if detail.get("lot_id") else None
    return HistoryLine(
        entry_id=e.entry_id,
        at=e.at,
        kind=e.kind,
        points=e.pending_points + e.available_points,
        pending_points=e.pending_points,
        available_points=e.available_points,
        merchant_id=detail.get("merchant_id") or (lot.merchant_id if lot else None),
        order_ref=detail.get("order_ref") or (lot.order_ref if lot else None),
        rule_version=detail.get("rule_version")
        or (lot.rule_version if lot else None)
        or _version_in_force(ctx, e.at),
    )


def _version_in_force(ctx: Context, at: datetime) -> int | None:
    """What a line names when its entry predates recording the version: the one in force then
    (the version whose limits a redemption was checked against)."""
    try:
        return ctx.rulebook.in_force(at).number
    except NoRulesInForce:
        return None
