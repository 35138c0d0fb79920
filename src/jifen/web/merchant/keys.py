"""The merchant's API keys, one per store or till: listed without their secret, made (shown once),
rotated with a grace period, revoked — the calls ``/v1/merchant/keys`` makes. A session signed
in with a key ends when that key is revoked (``jifen.web.sessions`` checks the key on every page).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from jifen import i18n
from jifen.alliance import keys
from jifen.alliance.merchants import get_merchant
from jifen.api.auth import Caller
from jifen.api.schemas._tools import KeyCreated, KeyOut, KeyRotated
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.web import csrf
from jifen.web.access import MerchantPage
from jifen.web.merchant import forms
from jifen.web.merchant.common import context, mine, write_once
from jifen.web.render import describe, language, page

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]
GRACES = (0, 3600, 86400, 7 * 86400)
"""The grace periods offered for a rotation: none, an hour, a day, a week (the longest)."""


class KeyForm(BaseModel):
    name: str
    store_id: str


class RotateForm(BaseModel):
    key_id: str
    grace_seconds: int


def _page(
    request: Request,
    who: Caller,
    *,
    shown: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
    typed: KeyForm | None = None,
) -> HTMLResponse:
    ctx = context(request)
    listed = keys.list_keys(ctx, mine(who), ctx.clock.now())
    response = page(
        request, "merchant/keys.html", who=who, keys=listed,
        stores=get_merchant(ctx, mine(who)).stores, shown=shown, error=error, status=status,
        typed=typed or KeyForm(name="", store_id=""), form_key=forms.new_form_key(),
        graces=GRACES,
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"  # a page may hold a key, shown this once
    return response


@router.get("/merchant/keys", response_class=HTMLResponse)
def key_list(request: Request, who: MerchantPage) -> HTMLResponse:
    return _page(request, who)


def _forget(request: Request) -> None:
    """As the API does: this process's key cache forgets every key at once."""
    request.app.state.key_cache.clear()


@router.post("/merchant/keys", dependencies=[Depends(csrf.check)], response_model=None)
def create(
    request: Request, who: MerchantPage, form_key: Field, name: Field, store_id: Field = ""
) -> Response:
    """A new key for a store or till, shown in this answer only (a resubmitted form answers the
    same key's listing, without the secret, as the API's replay does)."""
    ctx = context(request)
    typed = KeyForm(name=name.strip(), store_id=store_id.strip())
    if not forms.is_form_key(form_key):
        stale = i18n.text("web.merchant.form_stale", language(request))
        return _page(request, who, error=stale, status=422, typed=typed)
    try:
        made = write_once(
            request, who, form_key, typed,
            lambda tx: _created(ctx, who, typed, tx), secret="api_key",
        )  # fmt: skip
    except JifenError as exc:
        return _page(request, who, error=describe(request, exc), status=exc.status, typed=typed)
    return _page(request, who, shown=made, status=201)


def _created(ctx: Context, who: Caller, typed: KeyForm, tx: Connection) -> KeyCreated:
    info, secret = keys.create_key(
        ctx, mine(who), name=typed.name, store_id=typed.store_id or None,
        now=ctx.clock.now(), conn=tx,
    )  # fmt: skip
    return KeyCreated(key=KeyOut.model_validate(info), api_key=secret)


@router.post(
    "/merchant/keys/{key_id}/rotate", dependencies=[Depends(csrf.check)], response_model=None
)
def rotate(
    request: Request, who: MerchantPage, key_id: str, form_key: Field, grace_seconds: Field = "0"
) -> Response:
    """A successor key with the same name and store; the old one stays valid for the grace
    chosen (0: revoked at once)."""
    ctx = context(request)
    grace = int(grace_seconds) if grace_seconds.isdigit() else -1
    if grace not in GRACES or not forms.is_form_key(form_key):
        stale = i18n.text("web.merchant.form_stale", language(request))
        return _page(request, who, error=stale, status=422)

    def run(tx: Connection) -> KeyRotated:
        new, secret, old = keys.rotate_key(
            ctx, mine(who), key_id, ctx.clock.now(), grace=timedelta(seconds=grace), conn=tx
        )
        return KeyRotated(
            key=KeyOut.model_validate(new), api_key=secret, old=KeyOut.model_validate(old)
        )

    try:
        made = write_once(
            request, who, form_key, RotateForm(key_id=key_id, grace_seconds=grace), run,
            secret="api_key",
        )  # fmt: skip
    except JifenError as exc:
        return _page(request, who, error=describe(request, exc), status=exc.status)
    finally:
        _forget(request)
    return _page(request, who, shown=made, status=201)


@router.post(
    "/merchant/keys/{key_id}/revoke", dependencies=[Depends(csrf.check)], response_model=None
)
def revoke(request: Request, who: MerchantPage, key_id: str) -> Response:
    """Revoke at once (revoking twice is revoking once). Revoking the key this session signed
    in with ends this session too: the next page asks to sign in again."""
    ctx = context(request)
    try:
        keys.revoke_key(ctx, mine(who), key_id, ctx.clock.now())
    except JifenError as exc:
        return _page(request, who, error=describe(request, exc), status=exc.status)
    finally:
        _forget(request)
    return RedirectResponse("/merchant/keys", 303)
