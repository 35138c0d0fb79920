"""API key rows: the one place a key is made (random, shown once, kept as its SHA-256) and the
one place a presented key is looked up. Merchants' onboarding, named till keys, rotation and
auditor credentials all go through here (``jifen.alliance.keys`` is the public face)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, or_, select

from jifen.app._secrets import api_key_hash, new_api_key
from jifen.store import tables as t

PREFIX = {"operator": "jfo", "auditor": "jfa"}
"""A key's first letters say its role (``jfm_{merchant}`` for a merchant's); every API key starts
with ``jf``, which is how ``jifen.api.auth`` tells a key from a member token."""


@dataclass(frozen=True)
class KeyOwner:
    """Who presents a live key: its role, its merchant (if a merchant's), the key's id."""

    role: str
    merchant_id: str | None
    key_id: str | None


def key_id_of(key_hash: str) -> str:
    """The id of a key made before keys had ids (or the operator's configured key): from its
    hash, as migration 0006 named them, so registering the same key twice names it once."""
    return "k" + key_hash[:15]


def insert_key(
    conn: Connection,
    *,
    role: str,
    merchant_id: str | None,
    name: str | None,
    store_id: str | None,
    now: datetime,
) -> tuple[str, str]:
    """A new random key of ``role``: ``(key_id, key)``. The key itself is returned only now."""
    key = new_api_key(f"jfm_{merchant_id}" if role == "merchant" else PREFIX[role])
    key_id = "k" + secrets.token_hex(8)[:15]
    conn.execute(
        t.api_keys.insert().values(
            key_hash=api_key_hash(key),
            key_id=key_id,
            role=role,
            merchant_id=merchant_id,
            name=name,
            store_id=store_id,
            created_at=now,
        )
    )
    return key_id, key


def live_key_owner(engine: Engine, key: str, now: datetime) -> KeyOwner | None:
    """The owner of ``key`` if it is live at ``now``: not revoked, and not past a rotation's
    grace period."""
    c = t.api_keys.c
    with engine.connect() as conn:
        row = conn.execute(
            select(c.role, c.merchant_id, c.key_id).where(
                c.key_hash == api_key_hash(key),
                c.revoked_at.is_(None),
                or_(c.expires_at.is_(None), c.expires_at > now),
            )
        ).first()
    return KeyOwner(row.role, row.merchant_id, row.key_id) if row else None
