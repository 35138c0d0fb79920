"""Merchants: onboarding with KYC fields and stores, status, and their API keys."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from jifen.alliance._keyrows import KeyOwner, insert_key, key_id_of, live_key_owner
from jifen.alliance.errors import MerchantExists, MerchantInactive, MerchantNotFound
from jifen.app._secrets import api_key_hash
from jifen.app.context import Context
from jifen.app.paging import (
    Page,
    after_cursor,
    check_limit,
    decode_cursor,
    encode_cursor,
    ordered_id,
)
from jifen.errors import InvalidRequest
from jifen.store import insert_missing
from jifen.store import tables as t

MERCHANT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
OPERATOR_KEY = re.compile(r"jfo_[A-Za-z0-9_-]{24,}")
STATUS_ACTION = "merchant.status"  # audit records of status changes: merchant.status.<status>
MAX_REASON_CHARS = 500


class MerchantStatus(enum.StrEnum):
    ACTIVE = "active"  # records orders, accepts points
    SUSPENDED = "suspended"  # reads only: statements keep coming, no new orders or redemptions
    CLOSED = "closed"  # final; the history stays (financial records are kept ≥ 5 years)


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    city: str = ""


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    name: str
    category: str
    status: MerchantStatus
    kyc: dict[str, str] = field(default_factory=dict)
    stores: tuple[Store, ...] = ()
    created_at: datetime | None = None


def _merchant(row: Any) -> Merchant:
    return Merchant(
        merchant_id=row.merchant_id,
        name=row.name,
        category=row.category,
        status=MerchantStatus(row.status),
        kyc=json.loads(row.kyc),
        stores=tuple(Store(**s) for s in json.loads(row.stores)),
        created_at=row.created_at,
    )


def create_merchant(
    ctx: Context, merchant: Merchant, now: datetime, *, conn: Connection | None = None
) -> tuple[Merchant, str]:
    """Onboard a merchant: its record, its ledger accounts and an API key (shown only now), all
    in one transaction."""

    def work(conn: Connection) -> tuple[Merchant, str]:
        onboarded = onboard(ctx, merchant, now, conn=conn)
        _, key = insert_key(
            conn,
            role="merchant",
            merchant_id=merchant.merchant_id,
            name="default",
            store_id=None,
            now=now,
        )
        return onboarded, key

    return ctx.atomic(conn, work)


def onboard(
    ctx: Context, merchant: Merchant, now: datetime, *, conn: Connection | None = None
) -> Merchant:
    """The merchant's record and ledger accounts, without a key: what a bulk import does (the
    operator then issues a key per store or till, ``jifen.alliance.keys.create_key``)."""
    if not MERCHANT_ID.fullmatch(merchant.merchant_id):
        raise InvalidRequest(
            "商家编号须为 1-32 位小写字母、数字、_ 或 - / merchant_id: 1-32 of a-z 0-9 _ -",
            field="merchant_id",
            detail_key="merchant_id",
        )

    def work(conn: Connection) -> Merchant:
        if _row(conn, merchant.merchant_id) is not None:
            raise MerchantExists(
                f"商家 {merchant.merchant_id} 已存在 / merchant exists",
                merchant_id=merchant.merchant_id,
            )
        conn.execute(
            t.merchants.insert().values(
                merchant_id=merchant.merchant_id,
                name=merchant.name,
                category=merchant.category,
                status=MerchantStatus.ACTIVE.value,
                kyc=json.dumps(merchant.kyc, ensure_ascii=False, sort_keys=True),
                stores=json.dumps([s.__dict__ for s in merchant.stores], ensure_ascii=False),
                created_at=now,
                updated_at=now,
            )
        )
        ctx.ledger.open_merchant(merchant.merchant_id, now, conn=conn)
        return get_merchant(ctx, merchant.merchant_id, conn=conn)

    return ctx.atomic(conn, work)


def _row(conn: Connection, merchant_id: str) -> Any:
    return conn.execute(select(t.merchants).where(t.merchants.c.merchant_id == merchant_id)).first()


def get_merchant(ctx: Context, merchant_id: str, *, conn: Connection | None = None) -> Merchant:
    with ctx.reading(conn) as c:
        row = _row(c, merchant_id)
    if row is None:
        raise MerchantNotFound("没有这个商家 / no such merchant", merchant_id=merchant_id)
    return _merchant(row)


def active_merchant(ctx: Context, merchant_id: str, *, conn: Connection | None = None) -> Merchant:
    merchant = get_merchant(ctx, merchant_id, conn=conn)
    if merchant.status is not MerchantStatus.ACTIVE:
        raise MerchantInactive(
            f"商家状态为 {merchant.status.value}，不能记录订单、登记会员或核销积分 / "
            f"merchant is {merchant.status.value}: no new orders, members or redemptions",
            status=merchant.status.value,
        )
    return merchant


def list_merchants(ctx: Context, *, cursor: str | None, limit: int) -> Page[Merchant]:
    after = after_cursor(
        [t.merchants.c.merchant_id], decode_cursor(cursor, (str,)), newest_first=False
    )
    query = (
        select(t.merchants)
        .where(after)
        .order_by(t.merchants.c.merchant_id)
        .limit(check_limit(limit) + 1)
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [_merchant(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items, encode_cursor([items[-1].merchant_id]) if more else None)


def set_status(
    ctx: Context,
    merchant_id: str,
    status: MerchantStatus,
    now: datetime,
    *,
    conn: Connection | None = None,
    actor: str | None = None,
    reason: str | None = None,
) -> Merchant:
    """Suspend, reactivate or close. Closing is final; a closed merchant cannot come back.

    With a ``reason`` (the operator's console asks for one), the change is also an audit record
    (``audit_records``: who, when, which merchant, why) in the same transaction, which the
    merchant's page and the auditor read back; the API's status call gives none and writes none."""
    if reason is not None:
        reason = reason.strip()
        if not 1 <= len(reason) <= MAX_REASON_CHARS:
            raise InvalidRequest(
                "须说明理由（1-500 字）/ a reason of 1-500 characters is required",
                field="reason",
            )

    def work(conn: Connection) -> Merchant:
        row = _row(conn, merchant_id)
        if row is None:
            raise MerchantNotFound("没有这个商家 / no such merchant", merchant_id=merchant_id)
        if row.status == MerchantStatus.CLOSED.value and status is not MerchantStatus.CLOSED:
            raise MerchantInactive(
                "已关闭的商家不能重新启用 / a closed merchant stays closed", detail_key="closed"
            )
        conn.execute(
            t.merchants.update()
            .where(t.merchants.c.merchant_id == merchant_id)
            .values(status=status.value, updated_at=now)
        )
        if status is MerchantStatus.CLOSED:
            conn.execute(
                t.api_keys.update()
                .where(t.api_keys.c.merchant_id == merchant_id, t.api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        if reason is not None:
            conn.execute(
                t.audit_records.insert().values(
                    record_id=ordered_id("a"),
                    at=now,
                    actor=(actor or "operator")[:64],
                    action=f"{STATUS_ACTION}.{status.value}",
                    query=f"merchant_id {merchant_id}",
                    subject=merchant_id,
                    reason=reason,
                )
            )
        return get_merchant(ctx, merchant_id, conn=conn)

    return ctx.atomic(conn, work)


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    actor: str
    status: MerchantStatus
    reason: str


def status_changes(ctx: Context, merchant_id: str, *, limit: int = 20) -> list[StatusChange]:
    """The merchant's status changes made with a reason (``set_status(reason=…)``), newest
    first: what the operator's console shows beside the merchant."""
    c = t.audit_records.c
    query = (
        select(c.at, c.actor, c.action, c.reason)
        .where(c.subject == merchant_id, c.action.startswith(f"{STATUS_ACTION}."))
        .order_by(c.at.desc(), c.record_id.desc())
        .limit(check_limit(limit))
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        StatusChange(r.at, r.actor, MerchantStatus(r.action.rsplit(".", 1)[1]), r.reason)
        for r in rows
    ]


def count_by_status(ctx: Context) -> dict[MerchantStatus, int]:
    """How many merchants stand at each status (the operator's headline figures)."""
    c = t.merchants.c
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(c.status, func.count()).group_by(c.status)).all()
    found = {MerchantStatus(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in MerchantStatus}


def key_owner(ctx: Context, key: str) -> KeyOwner | None:
    """Who presents a live API key (role, merchant, key id), or None: revoked, past its
    rotation's grace period, or never issued."""
    return live_key_owner(ctx.engine, key, ctx.clock.now())


def add_operator_key(ctx: Context, key: str, now: datetime) -> None:
    """Register an operator key (idempotent): ``jifen serve`` does this for its configured key.

    API keys are told from member tokens by their ``jf`` prefix, so an operator key must start
    with ``jfo_`` and be long enough not to be guessed."""
    if not OPERATOR_KEY.fullmatch(key):
        raise InvalidRequest(
            "运营方密钥须为 jfo_ 加至少 24 位字母数字 / an operator key is jfo_ + 24 or more "
            "characters of A-Z a-z 0-9 _ -",
            field="JIFEN_OPERATOR_KEY",
        )
    key_hash = api_key_hash(key)
    row = {
        "key_hash": key_hash,
        "key_id": key_id_of(key_hash),
        "role": "operator",
        "merchant_id": None,
        "name": "JIFEN_OPERATOR_KEY",
    }
    with ctx.writer.begin() as conn:
        insert_missing(conn, t.api_keys, [{**row, "created_at": now}])
