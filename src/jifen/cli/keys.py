"""``jifen keys`` (a merchant's keys per store or till) and ``jifen auditor`` (read-only
credentials), on the store directly (docs/operator-tools.md, docs/auditor.md). A key is printed
once, when it is made. A running ``jifen serve`` accepts a key revoked here for at most 5 s more
(its key cache, docs/operations.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from jifen.cli._options import DbOption
from jifen.cli._output import data, err, out, say
from jifen.store import require_existing

if TYPE_CHECKING:
    from jifen.alliance.keys import KeyInfo
    from jifen.app import Context

__all__ = ["auditor_app", "keys_app"]

keys_app = typer.Typer(help="商家密钥 a merchant's API keys: one per store or till.")
auditor_app = typer.Typer(help="审计凭证 read-only credentials for auditors.")

MerchantArg = Annotated[str, typer.Argument(metavar="MERCHANT", help="the merchant id")]
KeyArg = Annotated[str, typer.Argument(metavar="KEY_ID", help="the key's id (k…)")]


def _open(db: str | None) -> Context:
    from jifen.app import open_alliance

    return open_alliance(require_existing(db))


def _table(keys: list[KeyInfo]) -> None:
    """One line per key (whole, for grep): id, status, name, store, made, end of validity."""
    say(err, "key_id status name store created until (secrets are never shown again)")
    for k in keys:
        ends = k.revoked_at or k.expires_at
        say(out, data(k.key_id), f" {k.status} ", data(k.name or "-"), " ",
            data(k.store_id or "-"), f" {k.created_at.isoformat()} ",
            ends.isoformat() if ends else "-")  # fmt: skip


def _shown_once(info: KeyInfo, key: str) -> None:
    say(err, ("只显示一次 shown once", "yellow"), ": keep this key now; it is never shown again")
    say(out, data(f"{info.key_id} {key}"))


@keys_app.command("create")
def create(
    merchant: MerchantArg,
    name: Annotated[str, typer.Option("--name", help="the store's or till's label")],
    store: Annotated[str | None, typer.Option("--store", help="one of its store ids")] = None,
    db: DbOption = None,
) -> None:
    """A new key for one store or till 签发密钥: prints the key id and the key, once."""
    from jifen.alliance.keys import create_key

    ctx = _open(db)
    try:
        info, key = create_key(ctx, merchant, name=name, store_id=store, now=ctx.clock.now())
    finally:
        ctx.engine.dispose()
    _shown_once(info, key)


@keys_app.command("list")
def list_(merchant: MerchantArg, db: DbOption = None) -> None:
    """The merchant's keys, without secrets 列出密钥."""
    from jifen.alliance.keys import list_keys

    ctx = _open(db)
    try:
        _table(list_keys(ctx, merchant, ctx.clock.now()))
    finally:
        ctx.engine.dispose()


@keys_app.command("revoke")
def revoke(merchant: MerchantArg, key_id: KeyArg, db: DbOption = None) -> None:
    """Revoke a key at once 吊销密钥."""
    from jifen.alliance.keys import revoke_key

    ctx = _open(db)
    try:
        info = revoke_key(ctx, merchant, key_id, ctx.clock.now())
    finally:
        ctx.engine.dispose()
    ends = info.revoked_at or info.expires_at
    say(out, "revoked ", data(info.key_id), f" at {ends.isoformat() if ends else '-'}")


@keys_app.command("rotate")
def rotate(
    merchant: MerchantArg,
    key_id: KeyArg,
    grace_s: Annotated[
        int, typer.Option("--grace-seconds", help="how long the old key stays valid (0: revoke)")
    ] = 3600,
    db: DbOption = None,
) -> None:
    """A successor key; the old one stays valid for the grace period 轮换密钥."""
    from jifen.alliance.keys import rotate_key

    ctx = _open(db)
    try:
        new, key, old = rotate_key(
            ctx, merchant, key_id, ctx.clock.now(), grace=timedelta(seconds=grace_s)
        )
    finally:
        ctx.engine.dispose()
    ends = old.revoked_at or old.expires_at
    say(err, "old key ", data(old.key_id), f" valid until {ends.isoformat() if ends else '-'}")
    _shown_once(new, key)


@auditor_app.command("create")
def auditor_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="who it is for")],
    db: DbOption = None,
) -> None:
    """A read-only credential for an auditor 签发审计凭证: printed once."""
    from jifen.alliance.keys import create_auditor

    ctx = _open(db)
    try:
        info, key = create_auditor(ctx, name, ctx.clock.now())
    finally:
        ctx.engine.dispose()
    _shown_once(info, key)


@auditor_app.command("list")
def auditor_list(db: DbOption = None) -> None:
    """Auditors' credentials, without secrets 列出审计凭证."""
    from jifen.alliance.keys import list_auditors

    ctx = _open(db)
    try:
        _table(list_auditors(ctx, ctx.clock.now()))
    finally:
        ctx.engine.dispose()


@auditor_app.command("revoke")
def auditor_revoke(key_id: KeyArg, db: DbOption = None) -> None:
    """Revoke an auditor's credential 吊销审计凭证."""
    from jifen.alliance.keys import revoke_auditor

    ctx = _open(db)
    try:
        info = revoke_auditor(ctx, key_id, ctx.clock.now())
    finally:
        ctx.engine.dispose()
    say(out, "revoked ", data(info.key_id))
