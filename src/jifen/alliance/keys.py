"""API keys by name: one per store or till of a merchant, rotated with a grace period, revoked
one at a time; and the auditor's read-only credentials, kept the same way.

A key is shown once, when it is made (created or rotated); afterwards it is listed by its id,
name and store, never by its secret. A process that revokes or rotates a key forgets its cached
keys at once (``jifen.api.auth.KeyCache``); another worker may accept a revoked key for at most
``KEY_CACHE_S`` (5 s) more, as after a suspension (docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from jifen.alliance._keyrows import KeyOwner, insert_key
from jifen.alliance.errors import KeyNotFound, KeyRevoked, MerchantInactive, StoreNotFound
from jifen.alliance.merchants import MerchantStatus, get_merchant
from jifen.app.context import Context
from jifen.errors import InvalidRequest
from jifen.ledger.model import ID_PATTERN
from jifen.store import tables as t

__all__ = [
    "MAX_GRACE",
    "MAX_LIVE_KEYS",
    "KeyInfo",
    "KeyOwner",
    "create_auditor",
    "create_key",
    "list_auditors",
    "list_keys",
    "revoke_auditor",
    "revoke_key",
    "rotate_key",
]

MAX_GRACE = timedelta(days=7)
"""The longest a rotated key stays valid beside its successor (time to roll the new key out to
every till); 0 revokes it at once."""
MAX_LIVE_KEYS = 500
"""Most live keys one merchant (or the auditors together) may hold: a key per till of a big
chain, with room for rotations in flight."""


@dataclass(frozen=True)
class KeyInfo:
    """A key as it is listed: everything but the secret."""

    key_id: str
    role: str
    merchant_id: str | None
    name: str | None
    store_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None  # the end of a rotated key's grace period
    status: str  # active | expiring (in its grace period) | revoked


def _info(row: Any, now: datetime) -> KeyInfo:
    gone = row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now)
    status = "revoked" if gone else "expiring" if row.expires_at is not None else "active"
    return KeyInfo(
        row.key_id, row.role, row.merchant_id, row.name, row.store_id, row.created_at,
        row.revoked_at, row.expires_at, status,
    )  # fmt: skip


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not ID_PATTERN.fullmatch(name):
        raise InvalidRequest(
            "密钥名称须为 1-64 位字母、数字或 . _ : - / a key's name: 1-64 of A-Z a-z 0-9 . _ : -",
            field="name",
        )


def _live(c: Any, now: datetime) -> Any:
    return (c.revoked_at.is_(None)) & ((c.expires_at.is_(None)) | (c.expires_at > now))


def _check_room(conn: Connection, role: str, merchant_id: str | None, now: datetime) -> None:
    c = t.api_keys.c
    live = conn.execute(
        select(func.count()).where(c.role == role, c.merchant_id == merchant_id, _live(c, now))
        if merchant_id is not None
        else select(func.count()).where(c.role == role, _live(c, now))
    ).scalar_one()
    if live >= MAX_LIVE_KEYS:
        raise InvalidRequest(
            f"有效密钥已达 {MAX_LIVE_KEYS} 个，请先吊销不用的 / at most {MAX_LIVE_KEYS} live "
            "keys: revoke unused ones first",
            field="name",
        )


def _row(conn: Connection, key_id: str, role: str, merchant_id: str | None) -> Any:
    c = t.api_keys.c
    row = conn.execute(
        select(t.api_keys).where(c.key_id == key_id, c.role == role, c.merchant_id == merchant_id)
        if merchant_id is not None
        else select(t.api_keys).where(c.key_id == key_id, c.role == role)
    ).first()
    if row is None:  # another merchant's key is not found, exactly as a key that never was
        raise KeyNotFound("没有这个密钥 / no such key", key_id=key_id)
    return row


def _created(
    conn: Connection, key_id: str, role: str, merchant_id: str | None, now: datetime
) -> KeyInfo:
    return _info(_row(conn, key_id, role, merchant_id), now)


def create_key(
    ctx: Context,
    merchant_id: str,
    *,
    name: str,
    store_id: str | None,
    now: datetime,
    conn: Connection | None = None,
) -> tuple[KeyInfo, str]:
    """A new key for one of the merchant's stores or tills: ``(its listing, the key)``; the key
    is shown only now. A closed merchant gets no key; a suspended one may (it still reads)."""
    _check_name(name)

    def work(tx: Connection) -> tuple[KeyInfo, str]:
        merchant = get_merchant(ctx, merchant_id, conn=tx)
        if merchant.status is MerchantStatus.CLOSED:
            raise MerchantInactive(
                "已关闭的商家不能签发密钥 / a closed merchant gets no keys", detail_key="no_keys"
            )
        if store_id is not None and store_id not in {s.store_id for s in merchant.stores}:
            raise StoreNotFound(
                "商家没有这个门店 / the merchant has no such store", field="store_id"
            )
        _check_room(tx, "merchant", merchant_id, now)
        key_id, key = insert_key(
            tx, role="merchant", merchant_id=merchant_id, name=name, store_id=store_id, now=now
        )
        return _created(tx, key_id, "merchant", merchant_id, now), key

    return ctx.atomic(conn, work)


def list_keys(ctx: Context, merchant_id: str, now: datetime) -> list[KeyInfo]:
    """Every key the merchant was ever given, newest first (revoked ones too: a record)."""
    get_merchant(ctx, merchant_id)
    return _list(ctx, "merchant", merchant_id, now)


def _list(ctx: Context, role: str, merchant_id: str | None, now: datetime) -> list[KeyInfo]:
    c = t.api_keys.c
    query = select(t.api_keys).where(c.role == role)
    if merchant_id is not None:
        query = query.where(c.merchant_id == merchant_id)
    with ctx.engine.connect() as conn:
        rows = conn.execute(query.order_by(c.created_at.desc(), c.key_id).limit(2000)).all()
    return [_info(r, now) for r in rows]


def revoke_key(
    ctx: Context,
    merchant_id: str | None,
    key_id: str,
    now: datetime,
    *,
    role: str = "merchant",
    conn: Connection | None = None,
) -> KeyInfo:
    """Revoke at once (idempotent: a revoked key stays revoked, with its first revocation time)."""

    def work(tx: Connection) -> KeyInfo:
        row = _row(tx, key_id, role, merchant_id)
        if _info(row, now).status != "revoked":
            tx.execute(
                t.api_keys.update()
                .where(t.api_keys.c.key_hash == row.key_hash)
                .values(revoked_at=now)
            )
        return _created(tx, key_id, role, merchant_id, now)

    return ctx.atomic(conn, work)


def rotate_key(
    ctx: Context,
    merchant_id: str,
    key_id: str,
    now: datetime,
    *,
    grace: timedelta,
    conn: Connection | None = None,
) -> tuple[KeyInfo, str, KeyInfo]:
    """A successor for a live key, with its name and store: ``(new, the new key, old)``. The old
    key stays valid for ``grace`` (at most ``MAX_GRACE``; 0: revoked at once)."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise InvalidRequest(
            "宽限期须在 0 至 7 天之间 / the grace period is 0 to 7 days", field="grace_seconds"
        )

    def work(tx: Connection) -> tuple[KeyInfo, str, KeyInfo]:
        old = _row(tx, key_id, "merchant", merchant_id)
        if _info(old, now).status == "revoked":
            raise KeyRevoked("该密钥已吊销，不能轮换 / this key is revoked: create a new one")
        new_id, key = insert_key(
            tx, role="merchant", merchant_id=merchant_id, name=old.name, store_id=old.store_id,
            now=now,
        )  # fmt: skip
        ends = now + grace
        change = {"revoked_at": now} if not grace else {"expires_at": ends}
        if grace and old.expires_at is not None and old.expires_at < ends:
            change = {}  # already rotated once: its grace never grows
        if change:
            tx.execute(
                t.api_keys.update().where(t.api_keys.c.key_hash == old.key_hash).values(**change)
            )
        return (
            _created(tx, new_id, "merchant", merchant_id, now),
            key,
            _created(tx, key_id, "merchant", merchant_id, now),
        )

    return ctx.atomic(conn, work)


def create_auditor(
    ctx: Context, name: str, now: datetime, *, conn: Connection | None = None
) -> tuple[KeyInfo, str]:
    """A read-only credential for an auditor or regulator (docs/auditor.md): ``(listing, key)``."""
    _check_name(name)

    def work(tx: Connection) -> tuple[KeyInfo, str]:
        _check_room(tx, "auditor", None, now)
        key_id, key = insert_key(
            tx, role="auditor", merchant_id=None, name=name, store_id=None, now=now
        )
        return _created(tx, key_id, "auditor", None, now), key

    return ctx.atomic(conn, work)


def list_auditors(ctx: Context, now: datetime) -> list[KeyInfo]:
    return _list(ctx, "auditor", None, now)


def revoke_auditor(
    ctx: Context, key_id: str, now: datetime, *, conn: Connection | None = None
) -> KeyInfo:
    return revoke_key(ctx, None, key_id, now, role="auditor", conn=conn)
