"""API keys (docs/operator-tools.md): a key per store or till of a merchant, listed without its
secret, rotated with a grace period, revoked; and the auditors' read-only credentials.

The operator manages any merchant's keys (``/v1/merchants/{merchant_id}/keys``), a merchant its
own (``/v1/merchant/keys``), the operator the auditors' (``/v1/auditors``). A key is in the
answer that made it, once: a replayed request answers ``api_key: null``. Revoking or rotating
clears this process's key cache at once; another worker may accept the old key for at most
``auth.KEY_CACHE_S`` (5 s) more.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from jifen.alliance import keys
from jifen.api.auth import Caller, Ctx, MerchantCaller, Operator
from jifen.api.idempotency import IdemKey, once
from jifen.api.schemas._tools import AuditorIn, KeyCreated, KeyIn, KeyOut, KeyRotated, RotateIn
from jifen.app.context import Context

router = APIRouter(prefix="/v1", tags=["keys 密钥"])
KeyId = Annotated[str, Path(pattern=r"^k[0-9a-f]{15}$", description="密钥编号 / the key's id")]


def _forget(request: Request) -> None:
    request.app.state.key_cache.clear()


def _create(
    request: Request, ctx: Context, who: Caller, merchant_id: str, body: KeyIn, key: str | None
) -> JSONResponse:
    def run(tx: Connection) -> KeyCreated:
        info, secret = keys.create_key(
            ctx, merchant_id, name=body.name, store_id=body.store_id, now=ctx.clock.now(), conn=tx
        )
        return KeyCreated(key=KeyOut.model_validate(info), api_key=secret)

    return once(request, who, key, body, run, 201, secret="api_key")


def _revoke(
    request: Request, ctx: Context, who: Caller, merchant_id: str, key_id: str, key: str | None
) -> JSONResponse:
    answer = once(
        request, who, key, None,
        lambda tx: KeyOut.model_validate(
            keys.revoke_key(ctx, merchant_id, key_id, ctx.clock.now(), conn=tx)
        ),
    )  # fmt: skip
    _forget(request)
    return answer


def _rotate(
    request: Request,
    ctx: Context,
    who: Caller,
    merchant_id: str,
    key_id: str,
    body: RotateIn,
    key: str | None,
) -> JSONResponse:
    def run(tx: Connection) -> KeyRotated:
        new, secret, old = keys.rotate_key(
            ctx, merchant_id, key_id, ctx.clock.now(),
            grace=timedelta(seconds=body.grace_seconds), conn=tx,
        )  # fmt: skip
        return KeyRotated(
            key=KeyOut.model_validate(new), api_key=secret, old=KeyOut.model_validate(old)
        )

    answer = once(request, who, key, body, run, 201, secret="api_key")
    _forget(request)
    return answer


# -- the operator, for any merchant ----------------------------------------------------------------


@router.post("/merchants/{merchant_id}/keys", response_model=KeyCreated, status_code=201)
def create_key(
    request: Request, ctx: Ctx, who: Operator, merchant_id: str, body: KeyIn, key: IdemKey = None
) -> JSONResponse:
    """签发门店或收银台密钥 / a new key for one store or till; shown only in this answer."""
    return _create(request, ctx, who, merchant_id, body, key)


@router.get("/merchants/{merchant_id}/keys", response_model=list[KeyOut])
def list_keys(ctx: Ctx, who: Operator, merchant_id: str) -> list[KeyOut]:
    """商家的密钥（不含密钥本身）/ the merchant's keys, newest first, without secrets."""
    return [KeyOut.model_validate(k) for k in keys.list_keys(ctx, merchant_id, ctx.clock.now())]


@router.post("/merchants/{merchant_id}/keys/{key_id}/revoke", response_model=KeyOut)
def revoke_key(
    request: Request, ctx: Ctx, who: Operator, merchant_id: str, key_id: KeyId, key: IdemKey = None
) -> JSONResponse:
    """吊销密钥 / revoke a key at once."""
    return _revoke(request, ctx, who, merchant_id, key_id, key)


@router.post(
    "/merchants/{merchant_id}/keys/{key_id}/rotate", response_model=KeyRotated, status_code=201
)
def rotate_key(
    request: Request,
    ctx: Ctx,
    who: Operator,
    merchant_id: str,
    key_id: KeyId,
    body: RotateIn,
    key: IdemKey = None,
) -> JSONResponse:
    """轮换密钥 / a successor key; the old one stays valid for ``grace_seconds`` (0: revoked)."""
    return _rotate(request, ctx, who, merchant_id, key_id, body, key)


# -- a merchant, for itself ------------------------------------------------------------------------


def _own(who: MerchantCaller) -> str:
    assert who.merchant_id is not None
    return who.merchant_id


@router.post("/merchant/keys", response_model=KeyCreated, status_code=201)
def create_own_key(
    request: Request, ctx: Ctx, who: MerchantCaller, body: KeyIn, key: IdemKey = None
) -> JSONResponse:
    """为本商家的门店或收银台签发密钥 / a new key for one of the caller's stores or tills."""
    return _create(request, ctx, who, _own(who), body, key)


@router.get("/merchant/keys", response_model=list[KeyOut])
def list_own_keys(ctx: Ctx, who: MerchantCaller) -> list[KeyOut]:
    return [KeyOut.model_validate(k) for k in keys.list_keys(ctx, _own(who), ctx.clock.now())]


@router.post("/merchant/keys/{key_id}/revoke", response_model=KeyOut)
def revoke_own_key(
    request: Request, ctx: Ctx, who: MerchantCaller, key_id: KeyId, key: IdemKey = None
) -> JSONResponse:
    return _revoke(request, ctx, who, _own(who), key_id, key)


@router.post("/merchant/keys/{key_id}/rotate", response_model=KeyRotated, status_code=201)
def rotate_own_key(
    request: Request,
    ctx: Ctx,
    who: MerchantCaller,
    key_id: KeyId,
    body: RotateIn,
    key: IdemKey = None,
) -> JSONResponse:
    return _rotate(request, ctx, who, _own(who), key_id, body, key)


# -- auditors' credentials (docs/auditor.md) -------------------------------------------------------


@router.post("/auditors", response_model=KeyCreated, status_code=201)
def create_auditor(
    request: Request, ctx: Ctx, who: Operator, body: AuditorIn, key: IdemKey = None
) -> JSONResponse:
    """签发审计只读凭证 / a read-only credential for an auditor; shown only in this answer."""

    def run(tx: Connection) -> KeyCreated:
        info, secret = keys.create_auditor(ctx, body.name, ctx.clock.now(), conn=tx)
        return KeyCreated(key=KeyOut.model_validate(info), api_key=secret)

    return once(request, who, key, body, run, 201, secret="api_key")


@router.get("/auditors", response_model=list[KeyOut])
def list_auditors(ctx: Ctx, who: Operator) -> list[KeyOut]:
    return [KeyOut.model_validate(k) for k in keys.list_auditors(ctx, ctx.clock.now())]


@router.post("/auditors/{key_id}/revoke", response_model=KeyOut)
def revoke_auditor(
    request: Request, ctx: Ctx, who: Operator, key_id: KeyId, key: IdemKey = None
) -> JSONResponse:
    """吊销审计凭证 / revoke an auditor's credential at once."""
    answer = once(
        request, who, key, None,
        lambda tx: KeyOut.model_validate(
            keys.revoke_auditor(ctx, key_id, ctx.clock.now(), conn=tx)
        ),
    )  # fmt: skip
    _forget(request)
    return answer
