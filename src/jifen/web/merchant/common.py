"""What every page of the merchant's console shares: whose console it is, and how a form makes
the same idempotent write the API makes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import Connection

from jifen.api.auth import Caller
from jifen.api.errors import Forbidden
from jifen.api.idempotency import once
from jifen.app.context import Context

PAGE_SIZE = 20


def mine(who: Caller) -> str:
    """The signed-in merchant: every read and write of this console is scoped to it."""
    assert who.merchant_id is not None
    return who.merchant_id


def only_mine(who: Caller, merchant_id: str | None) -> None:
    """A merchant's console names no other merchant; one asked for by name is refused, the same
    answer whether or not that merchant exists (as ``GET /v1/statements?merchant_id=`` does)."""
    if merchant_id not in (None, mine(who)):
        raise Forbidden("无权访问 / not allowed")


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def write_once(
    request: Request,
    who: Caller,
    form_key: str,
    typed: BaseModel,
    run: Callable[[Connection], BaseModel],
    secret: str | None = None,
) -> dict[str, Any]:
    """The API's ``Idempotency-Key`` mechanism with the form's own key: the claim and the write
    commit together, so a double click or a resubmitted form answers the first result and never
    writes twice. ``typed`` is what the form carried (as typed, before defaults such as "paid
    now"), so the resubmitted form is recognised as the same request."""
    answer = once(request, who, form_key, typed, run, 201, secret=secret)
    found: dict[str, Any] = json.loads(bytes(answer.body))
    return found
